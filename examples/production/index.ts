// A production set-up's keys. This program runs in the deploying pipeline with an admin key of its own (the stack's
// berth:apiKey, made once with `berth keys create --scope admin`); it gives the application a key that may only
// call its endpoint, and the dashboard a key that may only read.
import * as pulumi from "@pulumi/pulumi";
import { ApiKey, Endpoint, Template } from "berth";

const config = new pulumi.Config();

const template = new Template("worker", { imageName: config.require("image") });
const endpoint = new Endpoint("api", {
  template,
  // The client API's limits per key (RunPod's defaults where absent): at most 200 /run calls per 10 s.
  rateLimits: config.getObject("rateLimits") ?? { run: { requestsPer10s: 200 } },
});
const app = new ApiKey("app", { scope: "run", endpoints: [endpoint], expiresAt: config.get("appKeyExpiresAt") });
const dashboard = new ApiKey("dashboard", { scope: "read" });

export const endpointId = endpoint.id;
export const clientBaseUrl = endpoint.clientBaseUrl;
export const appKeyId = app.keyId;
// Secrets: `pulumi stack output appKey --show-secrets` hands them to the application's and dashboard's config.
export const appKey = app.key;
export const dashboardKey = dashboard.key;

import axios, { type AxiosRequestConfig, type AxiosResponse } from "axios";
import { caBundleAgent, describeCallError } from "./ca-bundle";

/** Where the CLI and `berth doctor` reach a control plane: its base URL and, for a private CA, the CA's PEM file. */
export interface ControlPlaneAddress {
  url: string;
  caBundle?: string;
}

/** The call got no answer (refused, timed out, a certificate not trusted here); its message says what to do. */
export class NoAnswerError extends Error {}

/**
 * One HTTP call to the control plane, answered whatever its status. A CA bundle that cannot be read throws as it is
 * (its message names the flag); a call that gets no answer throws NoAnswerError.
 */
export function callControlPlane(address: ControlPlaneAddress, path: string, config: AxiosRequestConfig): Promise<AxiosResponse> {
  const httpsAgent = address.caBundle ? caBundleAgent(address.caBundle, "--ca-bundle / BERTH_CA_BUNDLE") : undefined;
  return axios
    .request({ ...config, url: `${address.url.replace(/\/+$/, "")}${path}`, validateStatus: () => true, ...(httpsAgent && { httpsAgent }) })
    .catch((err: unknown) => {
      throw new NoAnswerError(describeCallError(err, "--ca-bundle (or BERTH_CA_BUNDLE)"));
    });
}

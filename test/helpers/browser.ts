import { chromium, type Browser } from "playwright-core";
import { testbedEnv } from "./env";

/**
 * The test bed's headless Chromium (Debian's, driven by playwright-core). Besides the usual headless set, no name is
 * ever looked up (the pages are on 127.0.0.1) and no DNS-over-HTTPS probe is made: the egress guard refuses
 * Chromium's own lookups of the machine's resolver otherwise.
 */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: testbedEnv("BERTH_CHROMIUM"),
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--no-first-run",
      "--disable-features=DnsOverHttps,AsyncDns",
      "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE localhost , EXCLUDE 127.0.0.1",
    ],
  });
}

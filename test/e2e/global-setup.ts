// Starts one local Satchel (wrangler dev, fresh state, its own dev operator key) for the e2e project.
import type { TestProject } from "vitest/node";
import { startLocalServer } from "../../scripts/local-server.mjs";

declare module "vitest" {
  export interface ProvidedContext {
    /** Base URL of the local server, e.g. http://127.0.0.1:41234. */
    satchelUrl: string;
    /** The development operator key the local server accepts. */
    satchelDevKey: string;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const server = await startLocalServer();
  project.provide("satchelUrl", server.url);
  project.provide("satchelDevKey", server.devKey);
  return () => server.stop();
}

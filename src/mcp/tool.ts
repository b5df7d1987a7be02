import type { z } from "zod";
import type { Principal } from "../auth/principal";

/** Who sees a tool: everyone, agents (operators too, naming the agent), or operators only. */
export type Audience = "everyone" | "agent" | "operator";

export interface ToolAnnotations {
  title?: string;
  readOnlyHint?: boolean;
  destructiveHint?: boolean;
  idempotentHint?: boolean;
  openWorldHint?: boolean;
}

/** What a tool handler gets besides its arguments. */
export interface ToolContext {
  env: Env;
  principal: Principal;
  /** The spending session: an SSE connection, or the credential on the stateless endpoint. */
  sessionId: string;
  /** The agent this call acts for: the caller itself, or the agent_id an operator named. */
  agentId: string | null;
}

/**
 * The spending session of a call for the ledger: its id, and the per-connection cap an OAuth grant
 * carries (the consent page sets it), applied on top of the agent's own per-session limit.
 */
export function spendingSession(ctx: ToolContext): { sessionId: string; sessionLimitMsat?: number } {
  const cap = ctx.principal.kind === "agent" ? ctx.principal.connectionCapSats : undefined;
  return { sessionId: ctx.sessionId, ...(cap === undefined ? {} : { sessionLimitMsat: cap * 1000 }) };
}

/** One entry of the tool table: schema in, one domain call, schema out. Transport-agnostic. */
export interface ToolDef<I extends z.ZodObject = z.ZodObject, O extends z.ZodObject = z.ZodObject> {
  name: string;
  /** Only where it says more than the name: clients show the name without one, and tools/list carries every byte. */
  title?: string;
  description: string;
  audience: Audience;
  input: I;
  output: O;
  annotations: ToolAnnotations;
  run(ctx: ToolContext, args: z.output<I>): Promise<z.input<O>>;
}

/** Declares a tool with its argument and result types inferred from the schemas. */
export function defineTool<I extends z.ZodObject, O extends z.ZodObject>(def: ToolDef<I, O>): ToolDef {
  return def as unknown as ToolDef;
}

import { DEFAULT_HINTS, SatchelError } from "../errors";

/** The CallToolResult shape both SDK generations accept. */
export interface ToolResult {
  [key: string]: unknown;
  content: { type: "text"; text: string }[];
  structuredContent?: Record<string, unknown>;
  isError?: boolean;
}

export function successResult(out: Record<string, unknown>): ToolResult {
  return { content: [{ type: "text", text: JSON.stringify(out) }], structuredContent: out };
}

/**
 * The only mapping from failures to MCP results: a SatchelError keeps its code, message, hint and
 * details; anything else is a bug, logged by name only and reported as INTERNAL without internals.
 */
export function errorResult(e: unknown, tool: string): ToolResult {
  const err = e instanceof SatchelError ? e : new SatchelError("INTERNAL", "Internal error.");
  if (!(e instanceof SatchelError)) {
    console.error("tool failed", {
      tool,
      error: e instanceof Error ? `${e.name}: ${e.message.slice(0, 200)}` : "unknown",
    });
  }
  const body = { ...err.toJSON(), hint: err.hint ?? DEFAULT_HINTS[err.code] };
  const text = `${body.code}: ${body.message} Hint: ${body.hint}`;
  return { isError: true, content: [{ type: "text", text }], structuredContent: { ...body } };
}

/** Who is calling: resolved from an API key or an OAuth token; both yield this shape. */
export type Principal =
  | { kind: "operator"; operatorId: string; keyId: string; via: "api_key" | "dev_key" | "oauth" }
  | {
      kind: "agent";
      operatorId: string;
      agentId: string;
      keyId: string;
      via: "api_key" | "oauth";
      /**
       * Most this connection may spend, in sats, as set on the consent page for one OAuth grant
       * (the grant is the connection: keyId `grant:<grantId>`). Absent: no per-connection cap.
       */
      connectionCapSats?: number;
    };

/** The props record handed to MCP transports (they require a plain object). */
export function toProps(p: Principal): Record<string, unknown> {
  return { ...p };
}

/** Reads a Principal back from transport props, refusing anything malformed. */
export function fromProps(props: Record<string, unknown> | undefined): Principal | null {
  if (!props) return null;
  const { kind, operatorId, agentId, keyId, via, connectionCapSats } = props;
  if (typeof operatorId !== "string" || typeof keyId !== "string" || typeof via !== "string") return null;
  if (kind === "operator" && (via === "api_key" || via === "dev_key" || via === "oauth")) {
    return { kind, operatorId, keyId, via };
  }
  if (kind === "agent" && typeof agentId === "string" && (via === "api_key" || via === "oauth")) {
    if (connectionCapSats === undefined) return { kind, operatorId, agentId, keyId, via };
    if (typeof connectionCapSats !== "number" || !Number.isSafeInteger(connectionCapSats) || connectionCapSats < 0) {
      return null;
    }
    return { kind, operatorId, agentId, keyId, via, connectionCapSats };
  }
  return null;
}

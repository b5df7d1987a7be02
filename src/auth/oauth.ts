import {
  getOAuthApi,
  OAuthError,
  OAuthProvider,
  type OAuthHelpers,
  type OAuthProviderOptions,
  type TokenExchangeCallbackOptions,
} from "@cloudflare/workers-oauth-provider";
import { getAgent } from "../store/accounts";
import { forgetCredentials } from "../store/credential-cache";
import { authenticate } from "./authenticate";
import { fromProps, toProps, type Principal } from "./principal";

/**
 * Satchel as its own OAuth 2.1 authorization server and resource server (one Worker).
 *
 * The protected resource is the Worker's origin, so one token serves `/mcp`, `/sse` and
 * `/sse/message`. Workers learn their public origin only from requests, so the provider is built per
 * origin and cached: on Cloudflare the origin is the route the request came in on (a custom domain or
 * workers.dev), which a client cannot choose freely; locally it is the loopback address of
 * `wrangler dev`. Plain http is refused by the provider except on loopback hosts; such origins get
 * no OAuth (API keys still work, see index.ts).
 */

/** The one scope Satchel grants: use the MCP tools as the agent chosen on the consent page. */
export const OAUTH_SCOPE = "mcp";
export const AUTHORIZE_PATH = "/authorize";
export const TOKEN_PATH = "/oauth/token";
export const REGISTER_PATH = "/oauth/register";
/** The protected routes; every one is a descendant of the origin, the resource. */
export const PROTECTED_ROUTES = ["/mcp", "/sse"];

const ACCESS_TOKEN_TTL = 3600;
const REFRESH_TOKEN_TTL = 30 * 24 * 3600;

/** The grant's own id becomes the principal's keyId: one grant is one connection. */
export function grantKeyId(grantId: string): string {
  return `grant:${grantId}`;
}

/** What the consent page stores in a grant's (encrypted) props; keyId is added at the code exchange. */
export type GrantProps = Omit<Extract<Principal, { kind: "agent" }>, "keyId"> & { keyId?: string };

type Handlers = Pick<OAuthProviderOptions<Env>, "apiHandler" | "defaultHandler">;

/** True for an origin the provider accepts as a resource and issuer (https, or http on loopback). */
export function oauthCapableOrigin(origin: string): boolean {
  let url: URL;
  try {
    url = new URL(origin);
  } catch {
    return false;
  }
  if (url.origin !== origin) return false;
  if (url.protocol === "https:") return true;
  if (url.protocol !== "http:") return false;
  const host = url.hostname;
  return host === "localhost" || host === "[::1]" || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

function options(origin: string, handlers: Handlers): OAuthProviderOptions<Env> {
  return {
    ...handlers,
    apiRoute: PROTECTED_ROUTES,
    authorizeEndpoint: AUTHORIZE_PATH,
    tokenEndpoint: TOKEN_PATH,
    clientRegistrationEndpoint: REGISTER_PATH,
    scopesSupported: [OAUTH_SCOPE],
    accessTokenTTL: ACCESS_TOKEN_TTL,
    refreshTokenTTL: REFRESH_TOKEN_TTL,
    resourceMetadata: {
      resource: origin,
      authorization_servers: [origin],
      resource_name: "Satchel Lightning wallet",
    },
    resolveExternalToken: async ({ token, env }) => {
      // Satchel's API keys (and the development key) are accepted next to OAuth tokens and resolve to
      // the same Principal. The provider never calls this for a token in its own format.
      const principal = await authenticate(env, `Bearer ${token}`);
      return principal ? { props: toProps(principal), audience: origin } : null;
    },
    tokenExchangeCallback: exchangeCallback,
    onError: ({ status, code, internal }) => {
      // Codes and reasons only: descriptions can echo client input, and nothing secret belongs in logs.
      console.warn(`oauth ${status} ${code} ${internal.category}/${internal.reason}`);
    },
  };
}

/**
 * At the code exchange the grant id is known for the first time: it becomes the principal's keyId.
 * On every refresh the agent must still exist and be active, or the grant is revoked.
 */
async function exchangeCallback(o: TokenExchangeCallbackOptions<Env>) {
  const grantType = String(o.grantType);
  if (grantType !== "authorization_code" && grantType !== "refresh_token") return undefined;
  const props = fromProps({ ...(o.props as Record<string, unknown>), keyId: grantKeyId(o.grantId) });
  if (props?.kind !== "agent" || props.via !== "oauth" || props.operatorId !== o.userId) {
    throw new OAuthError("invalid_grant", { description: "This grant is no longer valid." });
  }
  const agent = await getAgent(o.env.DB, props.operatorId, props.agentId);
  if (!agent || agent.status !== "active") {
    // The provider revokes the grant on invalid_grant; its access tokens must not outlive that here.
    // (index.ts forgets again once the token endpoint has answered, after the revocation itself.)
    forgetCredentials();
    throw new OAuthError("invalid_grant", { description: "The agent of this grant was disabled or deleted." });
  }
  return grantType === "authorization_code" ? { newProps: toProps(props) } : undefined;
}

const providers = new Map<string, OAuthProvider<Env>>();
const helperOptions = new Map<string, OAuthProviderOptions<Env>>();
const MAX_CACHED_ORIGINS = 16;

function remember<T>(map: Map<string, T>, key: string, value: T): T {
  if (map.size >= MAX_CACHED_ORIGINS) map.delete(map.keys().next().value as string);
  map.set(key, value);
  return value;
}

/** The provider serving one origin, or null when that origin cannot host OAuth (remote plain http). */
export function providerFor(origin: string, handlers: Handlers): OAuthProvider<Env> | null {
  if (!oauthCapableOrigin(origin)) return null;
  return providers.get(origin) ?? remember(providers, origin, new OAuthProvider<Env>(options(origin, handlers)));
}

const STUB: Handlers = {
  apiHandler: { fetch: () => new Response(null, { status: 404 }) },
  defaultHandler: { fetch: () => new Response(null, { status: 404 }) },
};

/**
 * The provider's helpers (parseAuthRequest, completeAuthorization, grants) for one origin. Built
 * here rather than read from env.OAUTH_PROVIDER, which the library caches on the shared env object
 * and would therefore leak one origin's helpers into another's requests.
 */
export function oauthHelpers(env: Env, origin: string): OAuthHelpers | null {
  if (!oauthCapableOrigin(origin)) return null;
  const opts = helperOptions.get(origin) ?? remember(helperOptions, origin, options(origin, STUB));
  return getOAuthApi(opts, env);
}

/**
 * Revokes one of an operator's grants (the dashboard's "revoke" on a connected client) and forgets
 * the cached access tokens, so this isolate refuses the grant's tokens at once, not after the cache
 * TTL. Use this rather than the provider's revokeGrant.
 */
export async function revokeClientGrant(env: Env, origin: string, grantId: string, operatorId: string): Promise<void> {
  const helpers = oauthHelpers(env, origin);
  if (!helpers) throw new Error(`OAuth is not available on ${origin}`);
  await helpers.revokeGrant(grantId, operatorId);
  forgetCredentials();
}

/**
 * The provider wraps every response of a protected route in these CORS headers (only for a request
 * with an Origin, and without overriding what the MCP handler already set). A call served from the
 * token cache (oauth-cache.ts) never reaches the provider, so it gets them here; a test compares the
 * two.
 */
export function withProtectedRouteCors(response: Response, request: Request): Response {
  const origin = request.headers.get("origin");
  if (origin === null) return response;
  const wrapped = new Response(response.body, response);
  const headers = wrapped.headers;
  const defaults: [string, string][] = [
    ["access-control-allow-origin", origin],
    ["access-control-allow-methods", "*"],
    ["access-control-allow-headers", "Authorization, *"],
    ["access-control-max-age", "86400"],
  ];
  for (const [name, value] of defaults) if (!headers.has(name)) headers.set(name, value);
  addListItem(headers, "vary", "Origin");
  addListItem(headers, "access-control-expose-headers", "WWW-Authenticate");
  addListItem(headers, "access-control-expose-headers", "Retry-After");
  return wrapped;
}

/** Adds one item to a comma-separated header unless it is already listed (case-insensitive). */
function addListItem(headers: Headers, name: string, item: string): void {
  const items = (headers.get(name) ?? "")
    .split(",")
    .map((v) => v.trim())
    .filter((v) => v !== "");
  if (!items.some((v) => v.toLowerCase() === item.toLowerCase())) items.push(item);
  headers.set(name, items.join(", "));
}

/** The RFC 9728 metadata URL a 401 points MCP clients at. */
export function resourceMetadataUrl(origin: string): string {
  return `${origin}/.well-known/oauth-protected-resource`;
}

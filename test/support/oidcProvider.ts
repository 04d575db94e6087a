/**
 * A real OpenID provider (panva's `oidc-provider`) on loopback, for interop tests of the JWT verifier.
 *
 * The provider issues client-credentials access tokens:
 *
 * - for the resource `https://inventory.shop.test` ({@link OidcProviderHandle.resource}): RFC 9068 JWTs
 *   (header `typ: "at+jwt"`, RS256, `aud` = the resource) carrying the client's tenant in `tid`;
 * - for the resource `https://reports.shop.test` ({@link OidcProviderHandle.opaqueResource}) or without a
 *   resource: opaque tokens, which only the introspection endpoint can resolve.
 *
 * The http server stays on one port for the fixture's lifetime and delegates every request to the current
 * provider; {@link OidcProviderHandle.rotate} swaps in a provider that signs with a fresh key and still
 * publishes (and holds) the earlier ones. Tokens live in one in-memory store shared across rotations.
 */
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import { calculateJwkThumbprint, exportJWK, generateKeyPair, type JWK } from "jose"
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http"
import type { AddressInfo } from "node:net"

/** A running provider. Every URL is on `http://127.0.0.1:<port>`. */
export interface OidcProviderHandle {
  /** `http://127.0.0.1:<port>`, the `iss` of every token. */
  readonly issuer: string
  /** The JWKS endpoint (public keys only, newest first). */
  readonly jwksUri: string
  readonly tokenEndpoint: string
  /** RFC 7662 introspection; authenticate with `client_secret_basic` (see {@link OidcClients}). */
  readonly introspectionEndpoint: string
  /** The resource indicator whose access tokens are JWTs; also their `aud`. */
  readonly resource: string
  /** A second resource indicator whose access tokens are opaque (with the same scopes). */
  readonly opaqueResource: string
  /** A JWT resource whose tokens live 4 seconds. */
  readonly shortResource: string
  /**
   * Requests a client-credentials token with `client_secret_basic`. Omitting `resource` yields an opaque
   * token; note oidc-provider then drops every non-OpenID scope, so such a token has no `scope`.
   * Rejects with the status and body when the provider refuses.
   */
  readonly clientCredentials: (options: {
    readonly clientId: OidcClientId
    readonly scope?: string
    readonly resource?: string
  }) => Promise<{ readonly accessToken: string; readonly expiresIn: number; readonly tokenType: string }>
  /**
   * Generates a fresh signing key and swaps in a provider that signs with it and still publishes and holds
   * every earlier key, on the same port. Returns the new key's `kid`.
   */
  readonly rotate: () => Promise<{ readonly kid: string }>
  /** The `kid`s the JWKS currently publishes, newest (the signing key) first. */
  readonly kids: () => ReadonlyArray<string>
  /** How many HTTP requests the server has received so far. */
  readonly requests: () => number
  /** Requests to the token endpoint. */
  readonly tokenRequests: () => number
  /** How many of those requests were for the JWKS endpoint. */
  readonly jwksRequests: () => number
}

/** The registered clients: all use `client_secret_basic` and only the client-credentials grant. */
export const OidcClients = {
  orders: { secret: "orders-secret", tenant: "acme" },
  inventory: { secret: "inventory-secret", tenant: "globex" },
  /** A client without a tenant: its tokens carry no `tid`. */
  audit: { secret: "audit-secret", tenant: undefined }
} as const satisfies Record<string, { readonly secret: string; readonly tenant: string | undefined }>

export type OidcClientId = keyof typeof OidcClients

const JWT_RESOURCE = "https://inventory.shop.test"
const OPAQUE_RESOURCE = "https://reports.shop.test"
/** A JWT resource whose tokens live only a few seconds, to watch refresh happen on the provider's clock. */
const SHORT_RESOURCE = "https://short.shop.test"
const SHORT_TTL = 4
const RESOURCE_SCOPE = "orders.write orders.read inventory.read"
/** Access token lifetime, seconds, for both resources and for resource-less tokens. */
const ACCESS_TOKEN_TTL = 300
const SIGNING_ALG = "RS256"

// ---------------------------------------------------------------------------------------------------------
// The slice of oidc-provider's (untyped) API this fixture uses.

interface ResourceServerInfo {
  readonly scope: string
  readonly audience?: string
  readonly accessTokenTTL?: number
  readonly accessTokenFormat?: "jwt" | "opaque"
  readonly jwt?: { readonly sign: { readonly alg: string } }
}

/** The fields of an access token model the callbacks below read. */
interface TokenModel {
  readonly clientId: string
  readonly resourceServer?: { readonly accessTokenTTL?: number }
}

interface ProviderInstance {
  /** A node:http request listener (the provider is a Koa application). */
  readonly callback: () => (req: IncomingMessage, res: ServerResponse) => unknown
}

interface ProviderModule {
  readonly default: new(issuer: string, configuration: object) => ProviderInstance
  readonly errors: { readonly InvalidTarget: new(description?: string) => Error }
}

/** The adapter contract of oidc-provider: one instance per model name (`AccessToken`, `ClientCredentials`, …). */
interface Adapter {
  upsert(id: string, payload: Record<string, unknown>, expiresIn?: number): Promise<void>
  find(id: string): Promise<Record<string, unknown> | undefined>
  findByUid(uid: string): Promise<Record<string, unknown> | undefined>
  findByUserCode(userCode: string): Promise<Record<string, unknown> | undefined>
  consume(id: string): Promise<void>
  destroy(id: string): Promise<void>
  revokeByGrantId(grantId: string): Promise<void>
}

type Store = Map<string, { readonly payload: Record<string, unknown>; readonly expiresAt: number }>

/**
 * A minimal in-memory adapter over a store the fixture owns, so tokens survive {@link OidcProviderHandle.rotate}
 * and fixtures never share state. Supplying one also avoids the "development-only in-memory adapter" warning.
 * Only client credentials are used here, so there are no grants, sessions or user codes to index.
 */
const memoryAdapter = (store: Store) => (model: string): Adapter => {
  const key = (id: string) => `${model}:${id}`
  return {
    upsert: async (id, payload, expiresIn) => {
      const expiresAt = typeof expiresIn === "number" ? Date.now() + expiresIn * 1000 : Infinity
      store.set(key(id), { payload, expiresAt })
    },
    find: async (id) => {
      const entry = store.get(key(id))
      if (entry === undefined || entry.expiresAt > Date.now()) return entry?.payload
      store.delete(key(id))
      return undefined
    },
    findByUid: async () => undefined,
    findByUserCode: async () => undefined,
    consume: async (id) => {
      const entry = store.get(key(id))
      if (entry !== undefined) entry.payload.consumed = Math.floor(Date.now() / 1000)
    },
    destroy: async (id) => {
      store.delete(key(id))
    },
    revokeByGrantId: async () => {}
  }
}

// ---------------------------------------------------------------------------------------------------------
// oidc-provider prints notices through console.info/console.warn ("oidc-provider NOTICE: …" / "WARNING: …"),
// e.g. "Unsupported runtime" when its module loads on Node 20. While at least one fixture is alive those
// lines, and only those, are dropped.

let quietHolders = 0
let restoreConsole: (() => void) | undefined

const isProviderNotice = (args: ReadonlyArray<unknown>) =>
  typeof args[0] === "string"
  && (args[0].includes("oidc-provider NOTICE: ") || args[0].includes("oidc-provider WARNING: "))

const holdQuiet = () => {
  if (quietHolders++ === 0) {
    const { info, warn } = console
    console.info = (...args: Array<unknown>) => {
      if (!isProviderNotice(args)) info.apply(console, args)
    }
    console.warn = (...args: Array<unknown>) => {
      if (!isProviderNotice(args)) warn.apply(console, args)
    }
    restoreConsole = () => {
      console.info = info
      console.warn = warn
    }
  }
}

const releaseQuiet = () => {
  if (--quietHolders === 0) {
    restoreConsole?.()
    restoreConsole = undefined
  }
}

const loadProviderModule = async (): Promise<ProviderModule> =>
  // @ts-expect-error -- oidc-provider ships no type declarations; ProviderModule types the part used here.
  (await import("oidc-provider")) as ProviderModule

// ---------------------------------------------------------------------------------------------------------

/** A fresh RS256 key pair as a private JWK with `kid` (its RFC 7638 thumbprint), `use` and `alg`. */
const generateSigningKey = async (): Promise<JWK & { kid: string }> => {
  const { privateKey } = await generateKeyPair(SIGNING_ALG, { extractable: true })
  const jwk = await exportJWK(privateKey)
  const kid = await calculateJwkThumbprint(jwk)
  return { ...jwk, kid, use: "sig", alg: SIGNING_ALG }
}

const makeConfiguration = (
  module: ProviderModule,
  keys: ReadonlyArray<JWK>,
  adapter: (model: string) => Adapter
) => ({
  adapter,
  jwks: { keys },
  clients: Object.entries(OidcClients).map(([clientId, { secret }]) => ({
    client_id: clientId,
    client_secret: secret,
    grant_types: ["client_credentials"],
    response_types: [],
    redirect_uris: [],
    token_endpoint_auth_method: "client_secret_basic"
  })),
  features: {
    // No end-user flows: no login pages (and no warning about them).
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
    introspection: {
      enabled: true,
      // Any authenticated client may introspect any token (the default allows it too, with a notice).
      allowedPolicy: async () => true
    },
    resourceIndicators: {
      enabled: true,
      // Without a `resource` parameter the token has no resource server, hence is opaque.
      defaultResource: async () => undefined,
      useGrantedResource: async () => false,
      getResourceServerInfo: async (_ctx: unknown, indicator: string): Promise<ResourceServerInfo> => {
        switch (indicator) {
          case JWT_RESOURCE:
            return {
              scope: RESOURCE_SCOPE,
              audience: JWT_RESOURCE,
              accessTokenTTL: ACCESS_TOKEN_TTL,
              accessTokenFormat: "jwt",
              jwt: { sign: { alg: SIGNING_ALG } }
            }
          case SHORT_RESOURCE:
            return {
              scope: RESOURCE_SCOPE,
              audience: SHORT_RESOURCE,
              accessTokenTTL: SHORT_TTL,
              accessTokenFormat: "jwt",
              jwt: { sign: { alg: SIGNING_ALG } }
            }
          case OPAQUE_RESOURCE:
            return {
              scope: RESOURCE_SCOPE,
              audience: OPAQUE_RESOURCE,
              accessTokenTTL: ACCESS_TOKEN_TTL,
              accessTokenFormat: "opaque"
            }
          default:
            throw new module.errors.InvalidTarget(`unknown resource indicator ${indicator}`)
        }
      }
    }
  },
  // Runs for JWT and opaque access tokens alike (for opaque ones the claim appears in introspection).
  extraTokenClaims: async (_ctx: unknown, token: TokenModel) => {
    const tenant = (OidcClients as Record<string, { readonly tenant: string | undefined }>)[token.clientId]?.tenant
    return tenant === undefined ? undefined : { tid: tenant }
  },
  ttl: {
    AccessToken: ACCESS_TOKEN_TTL,
    ClientCredentials: (_ctx: unknown, token: TokenModel) => token.resourceServer?.accessTokenTTL ?? ACCESS_TOKEN_TTL
  },
  // Browser CORS is irrelevant here; configuring it avoids oidc-provider's "you SHOULD change it" notice.
  clientBasedCORS: () => false
})

const listen = (server: Server) =>
  new Promise<number>((resolve, reject) => {
    server.once("error", reject)
    server.listen(0, "127.0.0.1", () => {
      server.off("error", reject)
      resolve((server.address() as AddressInfo).port)
    })
  })

const close = (server: Server) =>
  new Promise<void>((resolve) => {
    server.close(() => resolve())
    // Drop keep-alive sockets (fetch pools them) so close completes now and later fetches are refused.
    server.closeAllConnections()
  })

const acquire = async (): Promise<{ readonly server: Server; readonly handle: OidcProviderHandle }> => {
  const module = await loadProviderModule()
  const adapter = memoryAdapter(new Map())

  let listener: ((req: IncomingMessage, res: ServerResponse) => unknown) | undefined
  let requests = 0
  let jwksRequests = 0
  let tokenRequests = 0

  const server = createServer((req, res) => {
    requests++
    if (req.url?.split("?")[0] === "/jwks") jwksRequests++
    if (req.url?.split("?")[0] === "/token") tokenRequests++
    if (listener === undefined) {
      res.writeHead(503).end()
      return
    }
    listener(req, res)
  })
  const port = await listen(server)
  const issuer = `http://127.0.0.1:${port}`

  let keys: ReadonlyArray<JWK & { kid: string }> = [await generateSigningKey()]
  const install = () => {
    const provider = new module.default(issuer, makeConfiguration(module, keys, adapter))
    listener = provider.callback()
  }
  try {
    install()
  } catch (error) {
    await close(server)
    throw error
  }

  const clientCredentials: OidcProviderHandle["clientCredentials"] = async ({ clientId, resource, scope }) => {
    const body = new URLSearchParams({ grant_type: "client_credentials" })
    if (scope !== undefined) body.set("scope", scope)
    if (resource !== undefined) body.set("resource", resource)
    const response = await fetch(`${issuer}/token`, {
      method: "POST",
      headers: { authorization: basicAuthorization(clientId), "content-type": "application/x-www-form-urlencoded" },
      body
    })
    const text = await response.text()
    if (!response.ok) throw new Error(`token request failed: ${response.status} ${text}`)
    const json = JSON.parse(text) as { access_token: string; expires_in: number; token_type: string }
    return { accessToken: json.access_token, expiresIn: json.expires_in, tokenType: json.token_type }
  }

  const handle: OidcProviderHandle = {
    issuer,
    jwksUri: `${issuer}/jwks`,
    tokenEndpoint: `${issuer}/token`,
    introspectionEndpoint: `${issuer}/token/introspection`,
    resource: JWT_RESOURCE,
    opaqueResource: OPAQUE_RESOURCE,
    shortResource: SHORT_RESOURCE,
    clientCredentials,
    rotate: async () => {
      const fresh = await generateSigningKey()
      keys = [fresh, ...keys]
      install()
      return { kid: fresh.kid }
    },
    kids: () => keys.map((key) => key.kid),
    requests: () => requests,
    jwksRequests: () => jwksRequests,
    tokenRequests: () => tokenRequests
  }
  return { server, handle }
}

/** The `client_secret_basic` Authorization header of a registered client (RFC 6749 §2.3.1 form-encodes both). */
export const basicAuthorization = (clientId: OidcClientId): string => {
  const encode = (value: string) => encodeURIComponent(value).replace(/%20/g, "+")
  const credentials = `${encode(clientId)}:${encode(OidcClients[clientId].secret)}`
  return `Basic ${Buffer.from(credentials).toString("base64")}`
}

/**
 * Starts a provider on `127.0.0.1` (an ephemeral port) for the enclosing scope and closes its server, dropping
 * open connections, when the scope closes.
 */
export const OidcProvider: Effect.Effect<OidcProviderHandle, never, Scope.Scope> = Effect.acquireRelease(
  Effect.promise(async () => {
    holdQuiet()
    try {
      return await acquire()
    } catch (error) {
      releaseQuiet()
      throw error
    }
  }),
  ({ server }) => Effect.promise(() => close(server)).pipe(Effect.ensuring(Effect.sync(releaseQuiet)))
).pipe(Effect.map(({ handle }) => handle))

/**
 * The identity service: a small OAuth 2.0 authorization server on loopback
 * (http://127.0.0.1, a free port) that the shop's people log in to and its
 * services get their own tokens from, over standard OAuth 2.0.
 *
 * - `POST /token` (RFC 6749 §3.2), form-encoded, the client authenticated by
 *   HTTP Basic (`client_secret_basic`, RFC 6749 §2.3.1) or by form parameters
 *   (`client_secret_post`):
 *   - `grant_type=password` (RFC 6749 §4.3; `username`, `password`, optional
 *     `scope`) through the login client `shop-cli`: a token for the user.
 *   - `grant_type=client_credentials` (RFC 6749 §4.4; optional `scope`) by a
 *     service client (`orders`, `inventory`): the service's own token, with
 *     `sub` = `client_id` and the `tenants` it may act for.
 *
 *   Both require a `resource` (RFC 8707), the token's audience, among
 *   {@link resources}; repeated, the token's `aud` lists each of them. The
 *   granted scope is the requested scope intersected with what the user (or
 *   service client) is allowed, or all of that when no scope is asked. Tokens
 *   are RFC 9068 JWTs signed ES256 by `TokenIssuer`, carrying `iss`, `aud`,
 *   `sub`, `client_id`, `tid`, `scope`, `iat`, `exp`, `jti` (and `tenants`
 *   for services and for people who work for several tenants); times come from the Effect `Clock` of the fiber that
 *   started the service. Errors follow RFC 6749 §5.2 and RFC 8707 §2; no
 *   error ever echoes a parameter, a password or a secret.
 *
 *   Demo-only extension (not OAuth): the form field `expires_in_hint`, a
 *   whole number of seconds from 1 to 3600, sets the token's lifetime
 *   (default 300 s) so a demo can mint a short-lived token.
 * - `GET /jwks`: every published public key, `Cache-Control: max-age=<jwksMaxAge>`
 *   (1 second by default, so the demo's verifiers refresh often).
 * - `POST /admin/rotate` with `Authorization: Bearer <adminSecret>`: a new
 *   ES256 key is published at once and signs every token after `publishAhead`
 *   (2.5 seconds by default: the verifiers' refresh interval plus their fetch
 *   timeout), so every verifier has it before the first token signed with it
 *   arrives; earlier keys stay published, so earlier tokens keep verifying.
 *   Answers `{ "kid": ... }` once the new key signs.
 * - `GET /.well-known/oauth-authorization-server`: RFC 8414 metadata.
 *
 * Every request is bounded: at most 16 KiB of body is kept (a larger body is
 * answered 413; past 1 MiB the connection is dropped), headers must arrive
 * within 5 seconds and the whole request within 10.
 *
 * The users and clients below are demo data, passwords and secrets included.
 */
import { Scopes } from "@warden/core"
import { TokenIssuer } from "@warden/jwt"
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as FiberSet from "effect/FiberSet"
import * as Redacted from "effect/Redacted"
import type * as Scope from "effect/Scope"
import { createHash, randomBytes, randomUUID, timingSafeEqual } from "node:crypto"
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from "node:http"
import { createServer } from "node:http"
import type { AddressInfo } from "node:net"

// --- the directory -------------------------------------------------------------------------------------------------

/**
 * A person who logs in with a password; `scope` is everything their tokens may
 * carry; `tenants`, when given, every tenant they may act for (`tenant` first).
 */
export interface Person {
  readonly username: string
  readonly password: Redacted.Redacted<string>
  readonly tenant: string
  readonly tenants?: ReadonlyArray<string>
  readonly scope: string
}

/** The shop's people, by username. */
export const people: {
  readonly alice: Person
  readonly carol: Person
  readonly bob: Person
  readonly dave: Person
} = {
  alice: {
    username: "alice",
    password: Redacted.make("wonderland 42"),
    tenant: "acme",
    scope: "orders.write orders.read stock.read"
  },
  carol: { username: "carol", password: Redacted.make("carol-pass"), tenant: "acme", scope: "orders.read stock.read" },
  bob: {
    username: "bob",
    password: Redacted.make("can we fix it?"),
    tenant: "globex",
    scope: "orders.write orders.read stock.read"
  },
  // Keeps the stock of both tenants: a clerk in acme, an auditor in globex (the inventory's role assignments).
  dave: {
    username: "dave",
    password: Redacted.make("stock takes time"),
    tenant: "acme",
    tenants: ["acme", "globex"],
    scope: "orders.read stock.read"
  }
}

/** A client through which people log in (password grant only). */
export interface LoginClient {
  readonly kind: "login"
  readonly clientId: string
  readonly clientSecret: Redacted.Redacted<string>
}

/**
 * A service that gets its own tokens (client credentials only): `tid` is
 * `tenant`, `tenants` every tenant it may act for, `scope` what its tokens may
 * carry at most.
 */
export interface ServiceClient {
  readonly kind: "service"
  readonly clientId: string
  readonly clientSecret: Redacted.Redacted<string>
  readonly tenant: string
  readonly tenants: ReadonlyArray<string>
  readonly scope: string
}

export type Client = LoginClient | ServiceClient

/**
 * The registered clients, all confidential. `clientId` and `clientSecret` are
 * named as in `@warden/oauth`'s `ClientAuth`, so a client spreads into
 * `ClientCredentials.make({ ...clients.orders, tokenEndpoint, ... })`.
 */
export const clients: {
  readonly "shop-cli": LoginClient
  readonly orders: ServiceClient
  readonly inventory: ServiceClient
} = {
  "shop-cli": { kind: "login", clientId: "shop-cli", clientSecret: Redacted.make("shop-cli-secret") },
  orders: {
    kind: "service",
    clientId: "orders",
    // Characters that RFC 6749 §2.3.1 form-encodes before Basic encoding.
    clientSecret: Redacted.make("orders s3cret:/+"),
    tenant: "acme",
    tenants: ["acme", "globex"],
    scope: "stock.read stock.reserve"
  },
  inventory: {
    kind: "service",
    clientId: "inventory",
    clientSecret: Redacted.make("inventory-secret"),
    tenant: "acme",
    tenants: ["acme", "globex"],
    scope: "orders.read"
  }
}

/** The resources (RFC 8707) tokens are issued for: their `aud`. */
export const resources = {
  gateway: "https://gateway.shop.test",
  orders: "https://orders.shop.test",
  inventory: "https://inventory.shop.test"
} as const

/** Token lifetime when no `expires_in_hint` is given, in seconds. */
export const defaultLifetimeSeconds = 300

// --- the handle ----------------------------------------------------------------------------------------------------

export interface Identity {
  /** The issuer (`iss`), also the server's base URL: `http://127.0.0.1:<port>`. */
  readonly issuer: string
  readonly tokenEndpoint: string
  readonly jwksUrl: string
  /** The RFC 8414 metadata document's URL. */
  readonly metadataUrl: string
  /** The bearer secret of `POST /admin/rotate`, generated at start. */
  readonly adminSecret: Redacted.Redacted<string>
  /**
   * Rotates the signing key: publishes a new one, waits `publishAhead`, then
   * signs with it, and returns its `kid`. Runs the same code as
   * `POST /admin/rotate`, directly (not over HTTP, so not counted in `requests`).
   */
  readonly rotate: () => Effect.Effect<string>
  /** The `kid` that signs new tokens. */
  readonly currentKid: () => string
  /** Every published `kid`, oldest first. */
  readonly kids: () => ReadonlyArray<string>
  /** How many requests reached `path` (the path alone, without query), whatever their outcome. */
  readonly requests: (path: string) => number
}

// --- HTTP plumbing -------------------------------------------------------------------------------------------------

const maxBodyBytes = 16 * 1024
const maxDrainBytes = 1024 * 1024
const maxCountedPaths = 256
const realm = "shop-identity"

interface Reply {
  readonly status: number
  readonly headers: Readonly<Record<string, string>>
  readonly body: string
}

const json = (status: number, body: unknown, headers: Readonly<Record<string, string>> = {}): Reply => ({
  status,
  headers: { "content-type": "application/json", ...headers },
  body: JSON.stringify(body)
})

const noStore = { "cache-control": "no-store", pragma: "no-cache" } as const

/** An error answer of the token endpoint (RFC 6749 §5.2). */
class OAuthError extends Data.TaggedError("OAuthError")<{
  readonly status: number
  readonly error: string
  readonly description: string
}> {
  get reply(): Reply {
    return json(this.status, { error: this.error, error_description: this.description }, {
      ...noStore,
      ...(this.error === "invalid_client" ? { "www-authenticate": `Basic realm="${realm}", charset="UTF-8"` } : {})
    })
  }
}

const invalidRequest = (description: string) => new OAuthError({ status: 400, error: "invalid_request", description })
const invalidClient = (description: string) => new OAuthError({ status: 401, error: "invalid_client", description })
const invalidScope = (description: string) => new OAuthError({ status: 400, error: "invalid_scope", description })
const invalidTarget = (description: string) => new OAuthError({ status: 400, error: "invalid_target", description })

/** Why a body was not read. */
type BodyFailure = { readonly _tag: "TooLarge"; readonly drained: boolean } | { readonly _tag: "Aborted" }

/**
 * Reads a request body, keeping at most `maxBodyBytes`. A larger body is
 * drained (not kept) up to `maxDrainBytes` so the 413 reaches the client
 * cleanly; past that it fails at once and the connection is dropped.
 */
const readBody = (req: IncomingMessage): Effect.Effect<Buffer, BodyFailure> =>
  Effect.async<Buffer, BodyFailure>((resume) => {
    const declared = Number(req.headers["content-length"] ?? "0")
    if (declared > maxDrainBytes) {
      resume(Effect.fail({ _tag: "TooLarge", drained: false }))
      return
    }
    const chunks: Array<Buffer> = []
    let size = 0
    const cleanup = () => {
      req.off("data", onData)
      req.off("end", onEnd)
      req.off("error", onAbort)
      req.off("close", onAbort)
    }
    const onData = (chunk: Buffer) => {
      size += chunk.length
      if (size <= maxBodyBytes) {
        chunks.push(chunk)
      } else if (size > maxDrainBytes) {
        cleanup()
        resume(Effect.fail({ _tag: "TooLarge", drained: false }))
      }
    }
    const onEnd = () => {
      cleanup()
      resume(
        size > maxBodyBytes ? Effect.fail({ _tag: "TooLarge", drained: true }) : Effect.succeed(Buffer.concat(chunks))
      )
    }
    const onAbort = () => {
      cleanup()
      resume(Effect.fail({ _tag: "Aborted" }))
    }
    req.on("data", onData)
    req.on("end", onEnd)
    req.on("error", onAbort)
    req.on("close", onAbort)
    return Effect.sync(cleanup)
  })

const write = (res: ServerResponse, reply: Reply): void => {
  if (res.headersSent || res.destroyed) return
  res.writeHead(reply.status, {
    ...reply.headers,
    "x-content-type-options": "nosniff",
    "content-length": Buffer.byteLength(reply.body)
  })
  res.end(reply.body)
}

const pathOf = (url: string | undefined): string => {
  try {
    return new URL(url ?? "/", "http://127.0.0.1").pathname
  } catch {
    return "(malformed)"
  }
}

const digest = (value: string): Buffer => createHash("sha256").update(value, "utf8").digest()

/** Compares secrets in time independent of where they differ. */
const sameSecret = (given: string, expected: Redacted.Redacted<string>): boolean =>
  timingSafeEqual(digest(given), digest(Redacted.value(expected)))

/** RFC 6749 Appendix B: `+` is a space, then percent-decoding. */
const formDecode = (value: string): string | undefined => {
  try {
    return decodeURIComponent(value.replace(/\+/g, " "))
  } catch {
    return undefined
  }
}

// --- the token endpoint --------------------------------------------------------------------------------------------

const peopleByName: ReadonlyMap<string, Person> = new Map(Object.values(people).map((p) => [p.username, p]))
const clientsById: ReadonlyMap<string, Client> = new Map(Object.values(clients).map((c) => [c.clientId, c]))
const knownResources: ReadonlySet<string> = new Set(Object.values(resources))
/** Compared against when the username is unknown, so an unknown user takes as long as a wrong password. */
const nobody = Redacted.make(randomBytes(32).toString("base64url"))

/** The form of a token request: form-encoded, no parameter repeated (RFC 6749 §3.2) but `resource`. */
const parseForm = (headers: IncomingHttpHeaders, body: Buffer): Either.Either<URLSearchParams, OAuthError> => {
  const type = (headers["content-type"] ?? "").split(";")[0]!.trim().toLowerCase()
  if (type !== "application/x-www-form-urlencoded") {
    return Either.left(invalidRequest("the request body must be application/x-www-form-urlencoded"))
  }
  const form = new URLSearchParams(body.toString("utf8"))
  const seen = new Set<string>()
  for (const key of form.keys()) {
    if (seen.has(key) && key !== "resource") {
      return Either.left(invalidRequest("a request parameter is repeated"))
    }
    seen.add(key)
  }
  return Either.right(form)
}

/** Authenticates the client by exactly one of HTTP Basic and form parameters (RFC 6749 §2.3.1). */
const authenticateClient = (
  authorization: string | undefined,
  form: URLSearchParams
): Either.Either<Client, OAuthError> => {
  let id: string | undefined
  let secret: string | undefined
  if (authorization !== undefined) {
    const basic = /^basic +([A-Za-z0-9+/]+={0,2}) *$/i.exec(authorization)
    if (basic === null) return Either.left(invalidClient("client authentication must use HTTP Basic"))
    if (form.has("client_secret")) {
      return Either.left(invalidRequest("the client used more than one authentication method"))
    }
    const decoded = Buffer.from(basic[1]!, "base64").toString("utf8")
    const colon = decoded.indexOf(":")
    if (colon < 0) return Either.left(invalidClient("the Basic credentials are malformed"))
    id = formDecode(decoded.slice(0, colon))
    secret = formDecode(decoded.slice(colon + 1))
    if (id === undefined || secret === undefined) {
      return Either.left(invalidClient("the Basic credentials are malformed"))
    }
    const formId = form.get("client_id")
    if (formId !== null && formId !== id) {
      return Either.left(invalidRequest("client_id differs from the authenticated client"))
    }
  } else {
    id = form.get("client_id") ?? undefined
    secret = form.get("client_secret") ?? undefined
    if (id === undefined || secret === undefined) return Either.left(invalidClient("client authentication is required"))
  }
  const client = clientsById.get(id)
  const matches = sameSecret(secret, client?.clientSecret ?? nobody)
  return client !== undefined && matches
    ? Either.right(client)
    : Either.left(invalidClient("client authentication failed"))
}

/**
 * The token's audience from the `resource` parameters (RFC 8707 §2): at least
 * one, every one known; one resource is `aud` as a string, several (repeated
 * parameters, duplicates dropped) an array, so one token serves all of them.
 */
const audienceOf = (form: URLSearchParams): Either.Either<string | ReadonlyArray<string>, OAuthError> => {
  const requested = [...new Set(form.getAll("resource"))]
  if (requested.length === 0) return Either.left(invalidTarget("the resource parameter is required"))
  if (!requested.every((r) => knownResources.has(r))) {
    return Either.left(invalidTarget("a resource is not one this server issues tokens for"))
  }
  return Either.right(requested.length === 1 ? requested[0]! : requested)
}

/** The granted scope: the requested scope ∩ `allowed`, or all of `allowed` when none is requested. */
const grantScope = (requested: string | null, allowed: string): Either.Either<string, OAuthError> => {
  const permitted = allowed.split(" ")
  if (requested === null) return Either.right(allowed)
  const parsed = Scopes.parse(requested)
  if (Either.isLeft(parsed)) return Either.left(invalidScope("the scope parameter is malformed (RFC 6749 §3.3)"))
  const granted = parsed.right.tokens.filter((t) => permitted.includes(t))
  return granted.length === 0 ?
    Either.left(invalidScope("none of the requested scopes may be granted")) :
    Either.right(granted.join(" "))
}

/** The demo-only `expires_in_hint`: whole seconds, 1 to 3600. */
const lifetimeOf = (form: URLSearchParams): Either.Either<number, OAuthError> => {
  const hint = form.get("expires_in_hint")
  if (hint === null) return Either.right(defaultLifetimeSeconds)
  return /^[1-9][0-9]{0,3}$/.test(hint) && Number(hint) <= 3600 ?
    Either.right(Number(hint)) :
    Either.left(invalidRequest("expires_in_hint must be a whole number of seconds from 1 to 3600"))
}

// --- the server ----------------------------------------------------------------------------------------------------

/** How the identity service publishes its keys. */
export interface IdentityOptions {
  /** How long a new key is published before it signs. Default 2.5 seconds. */
  readonly publishAhead?: Duration.DurationInput
  /** The JWKS response's `max-age`, in seconds. Default 1. */
  readonly jwksMaxAge?: number
  /** The loopback port. Default a free one. */
  readonly port?: number
}

/** Starts an identity service on a loopback port (a free one by default); it stops with the scope. */
export const makeIdentity = (options: IdentityOptions = {}): Effect.Effect<Identity, never, Scope.Scope> =>
  Effect.gen(function*() {
    // Request fibers run with this fiber's services (its Clock among them) and are interrupted when the scope closes,
    // after the server has stopped (finalizers run in reverse order).
    const run = yield* FiberSet.makeRuntimePromise<never>()
    const adminSecret = Redacted.make(randomBytes(32).toString("base64url"))
    const keys: Array<TokenIssuer.SigningKey> = [yield* TokenIssuer.generateKey("ES256")]
    let signing = keys[0]!
    const current = () => signing
    const publishAhead = Duration.decode(options.publishAhead ?? Duration.millis(2500))
    const jwksCache = { "cache-control": `max-age=${options.jwksMaxAge ?? 1}` }
    const counts = new Map<string, number>()

    const server = createServer()
    server.headersTimeout = 5_000
    server.requestTimeout = 10_000
    const port = yield* Effect.acquireRelease(
      Effect.async<number>((resume) => {
        server.listen(
          options.port ?? 0,
          "127.0.0.1",
          () => resume(Effect.succeed((server.address() as AddressInfo).port))
        )
      }),
      () =>
        Effect.async<void>((resume) => {
          server.close(() => resume(Effect.void))
          server.closeAllConnections()
        })
    )
    const issuer = `http://127.0.0.1:${port}`
    const tokenEndpoint = `${issuer}/token`
    const jwksUrl = `${issuer}/jwks`
    const metadataPath = "/.well-known/oauth-authorization-server"

    // Published first, signing only once every verifier has had time to fetch it (docs/DESIGN.md, key rotation).
    const rotate = Effect.gen(function*() {
      const key = yield* TokenIssuer.generateKey("ES256")
      keys.push(key)
      yield* Effect.sleep(publishAhead)
      signing = key
      yield* Effect.logDebug("identity: signing key rotated").pipe(Effect.annotateLogs("kid", key.kid))
      return key.kid
    })

    const issue = (claims: TokenIssuer.TokenClaims, scope: string, lifetime: number) =>
      Effect.map(
        TokenIssuer.sign(current(), { ...claims, iss: issuer, scope, jti: randomUUID() }, {
          lifetimeSeconds: lifetime
        }),
        (accessToken) =>
          json(200, { access_token: accessToken, token_type: "Bearer", expires_in: lifetime, scope }, noStore)
      )

    const token = (headers: IncomingHttpHeaders, body: Buffer): Effect.Effect<Reply, OAuthError> =>
      Effect.gen(function*() {
        const form = yield* parseForm(headers, body)
        const client = yield* authenticateClient(headers.authorization, form)
        const grantType = form.get("grant_type")
        if (grantType === null) return yield* invalidRequest("grant_type is required")
        if (grantType !== "password" && grantType !== "client_credentials") {
          return yield* new OAuthError({
            status: 400,
            error: "unsupported_grant_type",
            description: "the grant types supported are password and client_credentials"
          })
        }
        if ((grantType === "password") !== (client.kind === "login")) {
          return yield* new OAuthError({
            status: 400,
            error: "unauthorized_client",
            description: "the client may not use this grant type"
          })
        }
        const audience = yield* audienceOf(form)
        const lifetime = yield* lifetimeOf(form)
        if (client.kind === "service") {
          const scope = yield* grantScope(form.get("scope"), client.scope)
          return yield* issue(
            {
              aud: audience,
              sub: client.clientId,
              client_id: client.clientId,
              tid: client.tenant,
              tenants: client.tenants
            },
            scope,
            lifetime
          )
        }
        const username = form.get("username")
        const password = form.get("password")
        if (username === null || password === null) return yield* invalidRequest("username and password are required")
        const person = peopleByName.get(username)
        const matches = sameSecret(password, person?.password ?? nobody)
        if (person === undefined || !matches) {
          // The same answer for an unknown user and a wrong password.
          return yield* new OAuthError({
            status: 400,
            error: "invalid_grant",
            description: "the resource owner's credentials are invalid"
          })
        }
        const scope = yield* grantScope(form.get("scope"), person.scope)
        return yield* issue(
          {
            aud: audience,
            sub: person.username,
            client_id: client.clientId,
            tid: person.tenant,
            ...(person.tenants === undefined ? {} : { tenants: person.tenants })
          },
          scope,
          lifetime
        )
      }).pipe(Effect.withSpan("shop.identity.token"))

    const adminRotate = (authorization: string | undefined): Effect.Effect<Reply> => {
      const bearer = authorization === undefined ? null : /^bearer +([\x21-\x7e]+) *$/i.exec(authorization)
      if (bearer === null || !sameSecret(bearer[1]!, adminSecret)) {
        // RFC 6750 §3.1: no error code when no credentials were given.
        return Effect.succeed(json(401, {
          error: authorization === undefined ? "unauthorized" : "invalid_token",
          error_description: "the admin secret is required"
        }, {
          ...noStore,
          "www-authenticate": `Bearer realm="${realm}-admin"${
            authorization === undefined ? "" : ", error=\"invalid_token\""
          }`
        }))
      }
      return Effect.map(rotate, (kid) => json(200, { kid }, noStore))
    }

    const metadata = () => ({
      issuer,
      token_endpoint: tokenEndpoint,
      jwks_uri: jwksUrl,
      grant_types_supported: ["password", "client_credentials"],
      token_endpoint_auth_methods_supported: ["client_secret_basic", "client_secret_post"],
      // No authorization endpoint, so no response type (RFC 8414 requires the member).
      response_types_supported: [],
      scopes_supported: [
        ...new Set(
          [...Object.values(people), ...Object.values(clients)].flatMap((e) => "scope" in e ? e.scope.split(" ") : [])
        )
      ]
    })

    const route = (method: string, path: string, headers: IncomingHttpHeaders, body: Buffer): Effect.Effect<Reply> => {
      const only = (allowed: string, answer: () => Effect.Effect<Reply>): Effect.Effect<Reply> =>
        method === allowed ?
          answer() :
          Effect.succeed(json(405, { error: "method_not_allowed" }, { allow: allowed }))
      switch (path) {
        case "/token":
          return only("POST", () => Effect.catchTag(token(headers, body), "OAuthError", (e) => Effect.succeed(e.reply)))
        case "/jwks":
          return only("GET", () => Effect.succeed(json(200, TokenIssuer.jwks(keys), jwksCache)))
        case metadataPath:
          return only("GET", () => Effect.succeed(json(200, metadata(), { "cache-control": "max-age=60" })))
        case "/admin/rotate":
          return only("POST", () => adminRotate(headers.authorization))
        default:
          return Effect.succeed(json(404, { error: "not_found" }))
      }
    }

    const handle = (req: IncomingMessage, res: ServerResponse): Effect.Effect<void> => {
      const path = pathOf(req.url)
      const counted = counts.has(path) || counts.size < maxCountedPaths ? path : "(other)"
      counts.set(counted, (counts.get(counted) ?? 0) + 1)
      return readBody(req).pipe(
        Effect.flatMap((body) => route(req.method ?? "", path, req.headers, body)),
        Effect.map((reply) => write(res, reply)),
        Effect.catchAll((failure) =>
          Effect.sync(() => {
            if (failure._tag === "Aborted") return void res.destroy()
            write(res, json(413, { error: "request_too_large" }, { connection: "close" }))
          })
        )
      )
    }

    server.on("request", (req: IncomingMessage, res: ServerResponse) => {
      run(handle(req, res)).catch(() => {
        // Interrupted (the service is stopping) or a defect: never leave the request hanging.
        if (!res.headersSent) write(res, json(503, { error: "unavailable" }, { connection: "close" }))
        else res.destroy()
      })
    })

    return {
      issuer,
      tokenEndpoint,
      jwksUrl,
      metadataUrl: `${issuer}${metadataPath}`,
      adminSecret,
      rotate: () => rotate,
      currentKid: () => current().kid,
      kids: () => keys.map((k) => k.kid),
      requests: (path) => counts.get(path) ?? 0
    }
  })

/** The identity service with its defaults. */
export const Identity: Effect.Effect<Identity, never, Scope.Scope> = makeIdentity()

/**
 * An identity provider for tests, on loopback: it generates ES256 keys, signs
 * access tokens (RFC 9068 `at+jwt`) for given principals with `TokenIssuer`,
 * serves its JWKS over HTTP, rotates and retires keys on demand, and runs a
 * client-credentials token endpoint. Everything stops with the layer's scope.
 *
 * ```
 * GET  /jwks   the published keys (503 while `setJwksAvailable(false)`)
 * POST /token  grant_type=client_credentials, client_secret_basic only
 * ```
 *
 * Times come from the Effect `Clock`: tokens signed by `sign` and `issue`
 * carry the caller's clock, tokens from the endpoint the clock of the fiber
 * that built the layer. Build the provider in the test (or its `it.layer`)
 * and both are the test's `TestClock`, the one the verifier reads.
 *
 * @since 0.1.0
 */
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import type * as Authenticator from "@warden/core/Authenticator"
import type * as Principal from "@warden/core/Principal"
import * as Scopes from "@warden/core/Scopes"
import * as JwtVerifier from "@warden/jwt/JwtVerifier"
import * as KeyStore from "@warden/jwt/KeyStore"
import * as RevocationStore from "@warden/jwt/RevocationStore"
import * as TokenIssuer from "@warden/jwt/TokenIssuer"
import * as ClientAuth from "@warden/oauth/ClientAuth"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import type * as Scope from "effect/Scope"
import { createHash, randomBytes, timingSafeEqual } from "node:crypto"
import * as ClaimSet from "./ClaimSet.js"
import * as Loopback from "./internal/loopback.js"

/** A confidential client of the token endpoint. */
export interface Client {
  readonly clientId: string
  readonly clientSecret: Redacted.Redacted<string>
  /** Its tokens' `tid`. */
  readonly tenant: string
  /** Further tenants its tokens sign (the `tenants` claim). */
  readonly tenants?: ReadonlyArray<string>
  /** The most its tokens may carry (space-separated); a request asking for more is `invalid_scope`. */
  readonly scope?: string
}

/** How the provider issues. */
export interface Options {
  /** The `aud` of every token. Default `https://api.warden.test`. */
  readonly audience?: string
  /** Token lifetime. Default 5 minutes. */
  readonly lifetime?: Duration.DurationInput
  /** Clients of the token endpoint, known from the start (more with `register`). */
  readonly clients?: ReadonlyArray<Client>
}

/** How one token is signed. */
export interface SignOptions {
  readonly lifetime?: Duration.DurationInput
  /** The key to sign with, by kid: any key the provider generated, published or retired. Default the current one. */
  readonly kid?: string
  /** Extra protected-header members (`alg` and `kid` are the key's). */
  readonly header?: Readonly<Record<string, unknown>>
}

/** The provider. */
export class TestIdentityProvider extends Context.Tag("@warden/testing/TestIdentityProvider")<TestIdentityProvider, {
  /** `iss` of its tokens, and its base URL: `http://127.0.0.1:<port>`. */
  readonly issuer: string
  readonly audience: string
  readonly jwksUrl: string
  readonly tokenEndpoint: string
  /** Signs claims with the current key; `iss`, `aud`, `iat`, `exp` and `jti` are filled in unless given. */
  readonly sign: (claims: ClaimSet.ClaimSet, options?: SignOptions) => Effect.Effect<string>
  /** A token for `principal` (its claims by `ClaimSet.fromPrincipal`), signed with the current key. */
  readonly issue: (principal: Principal.Principal, options?: SignOptions) => Effect.Effect<string>
  /** Generates a key that signs from now on; earlier keys stay published until retired. Returns its kid. */
  readonly rotate: Effect.Effect<string>
  /** Stops publishing a key. Tokens it signed stop verifying once a verifier's key store refetches. */
  readonly retire: (kid: string) => Effect.Effect<void>
  /** The kid that signs new tokens. */
  readonly currentKid: Effect.Effect<string>
  /** The kids the JWKS publishes, oldest first. */
  readonly published: Effect.Effect<ReadonlyArray<string>>
  /** Any key the provider generated, by kid. */
  readonly key: (kid: string) => Effect.Effect<Option.Option<TokenIssuer.SigningKey>>
  /** A key the provider never publishes: what a forger signs with. */
  readonly foreignKey: TokenIssuer.SigningKey
  /** Registers (or replaces) a client of the token endpoint. */
  readonly register: (client: Client) => Effect.Effect<void>
  /** Makes the JWKS endpoint answer 503 (`false`) or serve again (`true`). */
  readonly setJwksAvailable: (available: boolean) => Effect.Effect<void>
  /** How many requests each endpoint received. */
  readonly requests: Effect.Effect<{ readonly jwks: number; readonly token: number }>
}>() {}

const noStore = { "cache-control": "no-store", pragma: "no-cache" } as const

const oauthError = (status: number, error: string, description: string): Loopback.Reply =>
  Loopback.json(status, { error, error_description: description }, {
    ...noStore,
    ...(status === 401 ? { "www-authenticate": "Basic realm=\"warden-test\"" } : {})
  })

const digest = (value: string): Buffer => createHash("sha256").update(value, "utf8").digest()

/** Compares secrets in time independent of where they differ. */
const sameSecret = (given: string, expected: Redacted.Redacted<string>): boolean =>
  timingSafeEqual(digest(given), digest(Redacted.value(expected)))

/** Starts a provider in the current scope. */
export const make = (
  options: Options = {}
): Effect.Effect<Context.Tag.Service<TestIdentityProvider>, never, Scope.Scope> =>
  Effect.gen(function*() {
    const audience = options.audience ?? "https://api.warden.test"
    const lifetimeSeconds = Math.max(1, Math.floor(Duration.toSeconds(options.lifetime ?? Duration.minutes(5))))
    const prefix = randomBytes(4).toString("hex")
    const keys = new Map<string, TokenIssuer.SigningKey>()
    const published: Array<string> = []
    const clients = new Map<string, Client>((options.clients ?? []).map((c) => [c.clientId, c]))
    const counts = { jwks: 0, token: 0 }
    let jwksAvailable = true

    const generate = Effect.gen(function*() {
      const key = yield* TokenIssuer.generateKey("ES256", `${prefix}-${keys.size + 1}`)
      keys.set(key.kid, key)
      published.push(key.kid)
      return key
    })
    let current = yield* generate
    const foreignKey = yield* TokenIssuer.generateKey("ES256", `${prefix}-foreign`)

    const sign = (claims: ClaimSet.ClaimSet, signOptions: SignOptions = {}): Effect.Effect<string> =>
      Effect.suspend(() => {
        const key = signOptions.kid === undefined ? current : keys.get(signOptions.kid)
        if (key === undefined) return Effect.dieMessage(`TestIdentityProvider: no key has the kid ${signOptions.kid}`)
        const lifetime = signOptions.lifetime === undefined ?
          lifetimeSeconds :
          Math.floor(Duration.toSeconds(signOptions.lifetime))
        return TokenIssuer.sign(
          key,
          { iss: issuer, aud: audience, ...claims },
          signOptions.header === undefined ?
            { lifetimeSeconds: lifetime } :
            { lifetimeSeconds: lifetime, header: signOptions.header }
        )
      })

    const token = (request: Loopback.Request): Effect.Effect<Loopback.Reply> =>
      Effect.gen(function*() {
        const type = (request.headers["content-type"] ?? "").split(";")[0]!.trim().toLowerCase()
        if (type !== "application/x-www-form-urlencoded") {
          return oauthError(400, "invalid_request", "the body must be application/x-www-form-urlencoded")
        }
        const form = new URLSearchParams(request.body.toString("utf8"))
        const names = [...form.keys()].filter((name) => name !== "resource" && name !== "audience")
        if (new Set(names).size !== names.length) return oauthError(400, "invalid_request", "a parameter is repeated")
        const authorization = request.headers.authorization
        const credentials = authorization === undefined ? undefined : ClientAuth.fromBasic(authorization)
        if (credentials === undefined) {
          return oauthError(401, "invalid_client", "authenticate the client with HTTP Basic (client_secret_basic)")
        }
        if (form.has("client_secret")) {
          return oauthError(400, "invalid_request", "the client used more than one authentication method")
        }
        const client = clients.get(credentials.clientId)
        const matches = sameSecret(
          Redacted.value(credentials.clientSecret),
          client?.clientSecret ?? Redacted.make(prefix)
        )
        if (client === undefined || !matches) return oauthError(401, "invalid_client", "client authentication failed")
        if (form.get("grant_type") !== "client_credentials") {
          return oauthError(400, "unsupported_grant_type", "this endpoint grants client_credentials only")
        }
        const targets = [...form.getAll("resource"), ...form.getAll("audience")]
        if (targets.some((target) => target !== audience)) {
          return oauthError(400, "invalid_target", "tokens are issued for the provider's audience only")
        }
        const allowed = client.scope === undefined ? Scopes.empty : Either.getOrElse(
          Scopes.parse(client.scope),
          () => Scopes.empty
        )
        const requested = form.get("scope")
        let granted = allowed
        if (requested !== null) {
          const parsed = Scopes.parse(requested)
          if (Either.isLeft(parsed) || !parsed.right.tokens.every((s) => allowed.has(s))) {
            return oauthError(400, "invalid_scope", "the requested scope is malformed or exceeds the client's")
          }
          granted = parsed.right
        }
        const scope = granted.size === 0 ? undefined : Scopes.render(granted)
        const others = (client.tenants ?? []).filter((t) => t !== client.tenant)
        const accessToken = yield* sign({
          sub: client.clientId,
          client_id: client.clientId,
          tid: client.tenant,
          ...(others.length === 0 ? {} : { tenants: others }),
          ...(scope === undefined ? {} : { scope })
        })
        return Loopback.json(200, {
          access_token: accessToken,
          token_type: "Bearer",
          expires_in: lifetimeSeconds,
          ...(scope === undefined ? {} : { scope })
        }, noStore)
      })

    const route = (request: Loopback.Request): Effect.Effect<Loopback.Reply> => {
      switch (request.path) {
        case "/jwks":
          counts.jwks++
          if (request.method !== "GET") return Effect.succeed(Loopback.json(405, { error: "method_not_allowed" }))
          if (!jwksAvailable) return Effect.succeed(Loopback.json(503, { error: "unavailable" }))
          return Effect.succeed(
            Loopback.json(200, TokenIssuer.jwks(published.flatMap((kid) => keys.get(kid) ?? [])))
          )
        case "/token":
          counts.token++
          if (request.method !== "POST") return Effect.succeed(Loopback.json(405, { error: "method_not_allowed" }))
          return token(request)
        default:
          return Effect.succeed(Loopback.json(404, { error: "not_found" }))
      }
    }

    const port = yield* Loopback.serve(route)
    const issuer = `http://127.0.0.1:${port}`

    return {
      issuer,
      audience,
      jwksUrl: `${issuer}/jwks`,
      tokenEndpoint: `${issuer}/token`,
      sign,
      issue: (principal, signOptions) => sign(ClaimSet.fromPrincipal(principal), signOptions),
      rotate: Effect.map(generate, (key) => {
        current = key
        return key.kid
      }),
      retire: (kid) =>
        Effect.sync(() => {
          const index = published.indexOf(kid)
          if (index >= 0) published.splice(index, 1)
        }),
      currentKid: Effect.sync(() => current.kid),
      published: Effect.sync(() => [...published]),
      key: (kid) => Effect.sync(() => Option.fromNullable(keys.get(kid))),
      foreignKey,
      register: (client) => Effect.sync(() => void clients.set(client.clientId, client)),
      setJwksAvailable: (available) =>
        Effect.sync(() => {
          jwksAvailable = available
        }),
      requests: Effect.sync(() => ({ ...counts }))
    }
  })

/** The provider as a layer; its server stops when the layer is released. */
export const layer = (options: Options = {}): Layer.Layer<TestIdentityProvider> =>
  Layer.scoped(TestIdentityProvider, make(options))

/** How the kit's verifier is set up, on top of what the provider dictates (issuer, audience, JWKS URL). */
export interface VerifierOptions {
  readonly keyStore?: Partial<Omit<KeyStore.Options, "jwksUrl">>
  readonly verifier?: Partial<Omit<JwtVerifier.Options, "issuers" | "audience">>
  /** Default `RevocationStore.layerMemory`. */
  readonly revocations?: Layer.Layer<RevocationStore.RevocationStore>
}

/**
 * A `JwtVerifier` for the provider's tokens, with its `KeyStore` (fetching the
 * provider's JWKS over loopback HTTP, with its own undici client) and
 * `RevocationStore`, reading claims by Warden's defaults. A misconfiguration
 * is a defect: this is test code.
 */
export const layerVerifier = (
  options: VerifierOptions = {}
): Layer.Layer<
  JwtVerifier.JwtVerifier | KeyStore.KeyStore | RevocationStore.RevocationStore,
  never,
  TestIdentityProvider
> =>
  Layer.unwrapEffect(
    Effect.map(TestIdentityProvider, (provider) =>
      JwtVerifier.layer({
        ...options.verifier,
        issuers: [provider.issuer],
        audience: provider.audience
      }).pipe(
        Layer.provideMerge(
          KeyStore.layer({ allowInsecureLoopback: true, ...options.keyStore, jwksUrl: provider.jwksUrl })
        ),
        Layer.provideMerge(options.revocations ?? RevocationStore.layerMemory),
        Layer.provide(NodeHttpClient.layerUndici),
        Layer.orDie
      ))
  )

/** `layerVerifier` as Warden's `Authenticator`: what `Protected.layer` needs. */
export const layerAuthenticator = (
  options: VerifierOptions = {}
): Layer.Layer<
  Authenticator.Authenticator | JwtVerifier.JwtVerifier | KeyStore.KeyStore | RevocationStore.RevocationStore,
  never,
  TestIdentityProvider
> => JwtVerifier.layerAuthenticator.pipe(Layer.provideMerge(layerVerifier(options)))

/**
 * The token service: the authorization server half of the story. It logs
 * people in with a password, issues access and refresh pairs (the access
 * token an RFC 9068 JWT, the refresh token opaque and single-use), rotates
 * refresh tokens with reuse detection (a reused refresh token revokes its
 * whole family and every access token the family was given), logs out
 * through the shared `RevocationStore`, serves client credentials, and
 * publishes its keys (JWKS) and RFC 8414 metadata. Signing keys rotate with
 * an overlap: a retired key stays published until its last token expired.
 *
 * Every refusal is an `OAuthError` with an RFC 6749 §5.2 code and a fixed
 * description: never a password, a secret or a token.
 *
 * @since 0.3.0
 */
import * as Scopes from "@warden/core/Scopes"
import { RevocationStore } from "@warden/jwt/RevocationStore"
import * as TokenIssuer from "@warden/jwt/TokenIssuer"
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as jose from "jose"
import { createHash, randomBytes, timingSafeEqual } from "node:crypto"
import * as Throttle from "./LoginThrottle.js"
import { LoginThrottle } from "./LoginThrottle.js"
import * as Password from "./Password.js"
import { RefreshStore } from "./RefreshStore.js"
import type * as Refresh from "./RefreshStore.js"
import { UserStore } from "./UserStore.js"

/**
 * An RFC 6749 §5.2 error (and RFC 7009's `unsupported_token_type`).
 *
 * @since 0.3.0
 * @category errors
 */
export class OAuthError extends Data.TaggedError("@warden/OAuthError")<{
  readonly error:
    | "invalid_request"
    | "invalid_client"
    | "invalid_grant"
    | "unauthorized_client"
    | "unsupported_grant_type"
    | "invalid_scope"
    | "invalid_target"
    | "temporarily_unavailable"
  readonly description: string
}> {
  /** 401 for a client that did not authenticate, 503 when a store is down, 400 otherwise. */
  get status(): number {
    return this.error === "invalid_client" ? 401 : this.error === "temporarily_unavailable" ? 503 : 400
  }
}

/**
 * A client of the token service. Its secret is kept as a SHA-256 (a client
 * secret is random, so a fast hash suffices) and compared in constant time.
 *
 * @since 0.3.0
 * @category models
 */
export interface Client {
  readonly clientId: string
  readonly secret: Redacted.Redacted<string>
  readonly grants: ReadonlyArray<"password" | "refresh_token" | "client_credentials" | typeof tokenExchange>
  /** For client credentials: the scopes the client's own tokens may carry, and its tenant. */
  readonly scope?: string
  readonly tenant?: string
  /** For client credentials: every tenant the client's own tokens may act for (`tenants`; `tenant` first, added when missing). */
  readonly tenants?: ReadonlyArray<string>
  /** The lifetime of access tokens issued to this client, instead of the service's `accessLifetime`. */
  readonly accessLifetime?: Duration.DurationInput
}

/**
 * RFC 8693's grant type, and the type of the tokens it takes and gives.
 *
 * @since 0.3.0
 */
export const tokenExchange = "urn:ietf:params:oauth:grant-type:token-exchange"

/** @since 0.3.0 */
export const accessTokenType = "urn:ietf:params:oauth:token-type:access_token"

/**
 * How the service issues.
 *
 * @since 0.3.0
 * @category models
 */
export interface Options {
  /** `iss`, and the base of the endpoints' URLs in the metadata. */
  readonly issuer: string
  /** The `aud` of every access token (RFC 8707 `resource` may pick one of `audiences`). */
  readonly audience: string
  readonly audiences?: ReadonlyArray<string>
  readonly clients: ReadonlyArray<Client>
  /** Default 5 minutes. */
  readonly accessLifetime?: Duration.DurationInput
  /** How long a family lives from its login, whatever the refreshes. Default 14 days. */
  readonly refreshLifetime?: Duration.DurationInput
  /** The clock skew the verifiers allow, at least: a revocation is kept that much past `exp`. Default 60 s. */
  readonly clockSkew?: Duration.DurationInput
  /** Failures of one username before its logins are refused for a while. Default 5. */
  readonly failuresBeforeBackoff?: number
  /** The first refusal window after those failures, doubled with each further failure. Default 1 s. */
  readonly backoff?: Duration.DurationInput
  /** The longest refusal window. Default 15 minutes. */
  readonly maxBackoff?: Duration.DurationInput
  readonly algorithm?: TokenIssuer.SigningKey["alg"]
  /**
   * How long `rotateKey` publishes a new key before it signs, so every verifier has it before its first token:
   * at least the verifiers' key refresh interval plus their fetch timeout. Default 0 (signs at once; verifiers
   * then fetch it on the first unknown `kid`).
   */
  readonly publishAhead?: Duration.DurationInput
  /**
   * The JWKS response's `max-age`. Default 60 seconds, or half of `publishAhead` when that is shorter, so a
   * verifier that honours `max-age` sees a key published ahead before it signs.
   */
  readonly jwksMaxAge?: Duration.DurationInput
}

/**
 * What a token request may be, after its client authenticated.
 *
 * @since 0.3.0
 * @category models
 */
export type Grant =
  | {
    readonly grant_type: "password"
    readonly username: string
    readonly password: Redacted.Redacted<string>
    readonly scope?: string
    /** RFC 8707: the token's audience; several make one token for all of them (`aud` an array). */
    readonly resource?: string | ReadonlyArray<string>
  }
  | { readonly grant_type: "refresh_token"; readonly refresh_token: Redacted.Redacted<string> }
  | {
    readonly grant_type: "client_credentials"
    readonly scope?: string
    readonly resource?: string | ReadonlyArray<string>
  }
  | {
    readonly grant_type: typeof tokenExchange
    readonly subject_token: Redacted.Redacted<string>
    readonly subject_token_type: string
    /** The next hop: one of the service's audiences (RFC 8693 `audience`, or `resource`). */
    readonly audience?: string
    readonly scope?: string
  }

/**
 * RFC 6749 §5.1's successful response.
 *
 * @since 0.3.0
 * @category models
 */
export interface TokenResponse {
  readonly access_token: string
  readonly token_type: "Bearer"
  readonly expires_in: number
  readonly scope: string
  readonly refresh_token?: string
  /** For a token exchange (RFC 8693 §2.2.1). */
  readonly issued_token_type?: string
}

/**
 * The service.
 *
 * @since 0.3.0
 * @category models
 */
export class TokenService extends Context.Tag("@warden/token-service/TokenService")<TokenService, {
  /** A client by id, for a caller already authenticated some other way (its own token). */
  readonly findClient: (clientId: string) => Client | undefined
  /** Authenticates a client by id and secret; `invalid_client` when either is wrong. */
  readonly authenticateClient: (
    clientId: string,
    secret: Redacted.Redacted<string>
  ) => Effect.Effect<Client, OAuthError>
  readonly token: (client: Client, grant: Grant) => Effect.Effect<TokenResponse, OAuthError>
  /**
   * RFC 7009 revocation, the logout: a refresh token revokes its family, an access token of this service revokes
   * itself and its family; each family's access tokens go to the `RevocationStore`. Anything else does nothing
   * (RFC 7009 §2.2).
   */
  readonly revoke: (client: Client, token: Redacted.Redacted<string>) => Effect.Effect<void, OAuthError>
  /** The published keys: the signing key, and retired keys until their last token expired. */
  readonly jwks: Effect.Effect<{ readonly keys: ReadonlyArray<jose.JWK> }>
  /**
   * A new signing key: published at once, signing from `publishAhead` on; returns its `kid`. The key it replaces
   * stays published until its last token expired.
   */
  readonly rotateKey: Effect.Effect<string>
  /** The `kid` that signs tokens issued now. */
  readonly signingKid: Effect.Effect<string>
  /** The JWKS response's `max-age`, in seconds. */
  readonly jwksMaxAge: number
  /** RFC 8414 metadata. */
  readonly metadata: {
    readonly issuer: string
    readonly token_endpoint: string
    readonly jwks_uri: string
    readonly revocation_endpoint: string
    readonly grant_types_supported: ReadonlyArray<string>
    readonly token_endpoint_auth_methods_supported: ReadonlyArray<string>
    readonly response_types_supported: ReadonlyArray<string>
  }
}>() {}

const sha256 = (value: string): Buffer => createHash("sha256").update(value, "utf8").digest()
const tokenHash = (token: string): string => sha256(token).toString("base64url")

const fail = (error: OAuthError["error"], description: string) => Effect.fail(new OAuthError({ error, description }))
const unavailable = () => new OAuthError({ error: "temporarily_unavailable", description: "try again later" })

/** RFC 6749 §3.3: a scope is one or more scope-tokens; a token with none carries no `scope` claim at all. */
const scopeClaim = (scope: string): { readonly scope?: string } => scope.length === 0 ? {} : { scope }

/**
 * The requested scopes, each of which `allowed` must hold (`refusal` otherwise); all of `allowed` when none are
 * asked for. A scope parameter must be RFC 6749 §3.3's: one or more scope-tokens, one space apart.
 */
const narrow = (requested: string | undefined, allowed: string, refusal: string): Effect.Effect<string, OAuthError> => {
  const granted = new Set(allowed.split(" ").filter((s) => s.length > 0))
  if (requested === undefined) return Effect.succeed([...granted].join(" "))
  const parsed = Scopes.parse(requested)
  if (Either.isLeft(parsed)) return fail("invalid_scope", "the scope parameter is malformed (RFC 6749 §3.3)")
  const asked = parsed.right.tokens
  return asked.every((s) => granted.has(s))
    ? Effect.succeed([...new Set(asked)].join(" "))
    : fail("invalid_scope", refusal)
}

/**
 * Builds the service.
 *
 * @since 0.3.0
 * @category constructors
 */
export const make = (
  options: Options
): Effect.Effect<TokenService["Type"], never, UserStore | RefreshStore | RevocationStore> =>
  Effect.gen(function*() {
    const users = yield* UserStore
    const refreshes = yield* RefreshStore
    const revocations = yield* RevocationStore
    const accessSeconds = Math.round(Duration.toSeconds(options.accessLifetime ?? "5 minutes"))
    const refreshSeconds = Math.round(Duration.toSeconds(options.refreshLifetime ?? "14 days"))
    const skewSeconds = Math.round(Duration.toSeconds(options.clockSkew ?? "60 seconds"))
    const audiences = new Set([options.audience, ...(options.audiences ?? [])])
    const algorithm = options.algorithm ?? "ES256"
    const clients = new Map(
      options.clients.map((c) => [c.clientId, { client: c, hash: sha256(Redacted.value(c.secret)) }])
    )
    const nobody = sha256(randomBytes(32).toString("hex"))
    const lifetimeOf = (client: Client) =>
      client.accessLifetime === undefined ? accessSeconds : Math.round(Duration.toSeconds(client.accessLifetime))
    /** The longest an access token of this service lives: how long a retired key must stay published. */
    const longestSeconds = Math.max(accessSeconds, ...options.clients.map(lifetimeOf))
    const aheadMs = Duration.toMillis(options.publishAhead ?? 0)
    const jwksMaxAge = options.jwksMaxAge !== undefined ?
      Math.round(Duration.toSeconds(options.jwksMaxAge)) :
      aheadMs > 0 ?
      Math.max(1, Math.min(60, Math.floor(aheadMs / 2000))) :
      60

    // Signing keys, oldest first: the newest whose time has come signs; a key published ahead waits for its time;
    // a replaced key stays published until its last token expired.
    const keys: Array<{ readonly key: TokenIssuer.SigningKey; readonly signsFrom: number; retireAt: number | null }> = [
      { key: yield* TokenIssuer.generateKey(algorithm), signsFrom: 0, retireAt: null }
    ]
    const signer = (now: number) => {
      for (let i = keys.length - 1; i > 0; i--) {
        if (keys[i]!.signsFrom <= now) return keys[i]!.key
      }
      return keys[0]!.key
    }

    // Failed logins per username: after `failuresBeforeBackoff`, every login is refused until the window ends. In
    // this process unless a shared `LoginThrottle` is provided.
    const rule: Throttle.Rule = {
      threshold: options.failuresBeforeBackoff ?? 5,
      backoffMs: Duration.toMillis(options.backoff ?? "1 second"),
      maxBackoffMs: Duration.toMillis(options.maxBackoff ?? "15 minutes")
    }
    const throttle = Option.getOrElse(yield* Effect.serviceOption(LoginThrottle), () => Throttle.makeMemory())

    const authenticateClient = (clientId: string, secret: Redacted.Redacted<string>) =>
      Effect.suspend(() => {
        const known = clients.get(clientId)
        const matches = timingSafeEqual(sha256(Redacted.value(secret)), known?.hash ?? nobody)
        return known !== undefined && matches ?
          Effect.succeed(known.client) :
          fail("invalid_client", "the client could not be authenticated")
      })

    /**
     * Signs an access token: `iss`, `iat`, a fresh `jti`, and `exp` an access lifetime from now or `expiresAt` when
     * sooner. Returns the token and what a family records of it.
     */
    const sign = (claims: Record<string, unknown>, now: number, lifetime = accessSeconds, expiresAt = Infinity) => {
      const iat = Math.floor(now / 1000)
      const issued: Refresh.Issued = {
        tokenId: randomBytes(16).toString("base64url"),
        expiresAt: Math.min(expiresAt, iat + lifetime)
      }
      return Effect.map(
        TokenIssuer.sign(signer(now), {
          ...claims,
          iss: options.issuer,
          iat,
          exp: issued.expiresAt,
          jti: issued.tokenId
        }),
        (token) => ({ token, issued, expiresIn: issued.expiresAt - iat })
      )
    }

    /** RFC 8707: the audience the `resource` parameters name, every one known; several make `aud` an array. */
    const audienceOf = (resource: string | ReadonlyArray<string> | undefined) => {
      const asked = typeof resource === "string" ? [resource] : [...new Set(resource ?? [])]
      if (asked.length === 0) return Effect.succeed<string | ReadonlyArray<string>>(options.audience)
      return asked.every((r) => audiences.has(r)) ?
        Effect.succeed<string | ReadonlyArray<string>>(asked.length === 1 ? asked[0]! : asked) :
        fail("invalid_target", "the resource is not one this service issues tokens for")
    }

    /**
     * An access token and the next refresh token of a session's family, for the audience its login asked for. A
     * client without the refresh-token grant gets the access token alone, outside any family (it could never use a
     * refresh token; its logout is the access token's own revocation).
     */
    const pair = (session: Refresh.Session, client: Client, now: number) =>
      Effect.gen(function*() {
        const refreshing = client.grants.includes("refresh_token")
        const access = yield* sign(
          {
            sub: session.subject,
            aud: session.audience ?? options.audience,
            client_id: session.clientId,
            tid: session.tenant,
            ...(session.tenants.length > 1 ? { tenants: session.tenants } : {}),
            ...scopeClaim(session.scope),
            ...(refreshing ? { sid: session.family } : {})
          },
          now,
          lifetimeOf(client)
        )
        const response = {
          access_token: access.token,
          token_type: "Bearer",
          expires_in: access.expiresIn,
          scope: session.scope
        } satisfies TokenResponse
        if (!refreshing) return response
        const refresh = `rt_${randomBytes(32).toString("base64url")}`
        yield* refreshes.save(tokenHash(refresh), session).pipe(Effect.mapError(unavailable))
        yield* refreshes.recordAccess(session.family, access.issued).pipe(Effect.mapError(unavailable))
        return { ...response, refresh_token: refresh } satisfies TokenResponse
      })

    /** Revokes a family's access tokens for as long as a verifier could accept them. */
    const revokeIssued = (issued: ReadonlyArray<Refresh.Issued>) =>
      Effect.forEach(
        issued,
        (i) => revocations.revoke({ issuer: options.issuer, tokenId: i.tokenId }, i.expiresAt + skewSeconds),
        { discard: true }
      ).pipe(Effect.mapError(unavailable))

    const password = (client: Client, grant: Extract<Grant, { grant_type: "password" }>, now: number) =>
      Effect.gen(function*() {
        const failed = yield* throttle.failures(grant.username, now).pipe(Effect.mapError(unavailable))
        if (failed !== undefined && failed.count >= rule.threshold && now < failed.until) {
          // Refused without looking at the password: guessing goes no faster by trying during the window.
          return yield* fail("invalid_grant", "too many failed logins: try again later")
        }
        const user = yield* users.find(grant.username).pipe(Effect.mapError(unavailable))
        const ok = yield* Password.verifyOrNothing(grant.password, user?.passwordHash)
        if (user === undefined || !ok) {
          yield* throttle.recordFailure(grant.username, now, rule).pipe(Effect.mapError(unavailable))
          return yield* fail("invalid_grant", "the username or password is wrong")
        }
        if (failed !== undefined) yield* throttle.clear(grant.username).pipe(Effect.mapError(unavailable))
        const scope = yield* narrow(grant.scope, user.scope, "a requested scope is not allowed")
        const audience = yield* audienceOf(grant.resource)
        const session: Refresh.Session = {
          family: randomBytes(16).toString("base64url"),
          subject: user.subject,
          tenant: user.tenant,
          tenants: user.tenants,
          scope,
          clientId: client.clientId,
          expiresAt: Math.floor(now / 1000) + refreshSeconds,
          ...(audience === options.audience ? {} : { audience })
        }
        return yield* pair(session, client, now)
      })

    const refresh = (client: Client, grant: Extract<Grant, { grant_type: "refresh_token" }>, now: number) =>
      Effect.gen(function*() {
        const consumed = yield* refreshes.consume(tokenHash(Redacted.value(grant.refresh_token))).pipe(
          Effect.mapError(unavailable)
        )
        switch (consumed._tag) {
          case "Unknown":
          case "Revoked":
            return yield* fail("invalid_grant", "the refresh token is not valid")
          case "Reused":
            // Someone else holds this refresh token: end the whole session, every access token of it included.
            yield* revokeIssued(consumed.issued)
            return yield* fail("invalid_grant", "the refresh token is not valid")
          case "Fresh": {
            if (consumed.session.clientId !== client.clientId) {
              return yield* fail("invalid_grant", "the refresh token was issued to another client")
            }
            return yield* pair(consumed.session, client, now)
          }
        }
      })

    const clientCredentials = (
      client: Client,
      grant: Extract<Grant, { grant_type: "client_credentials" }>,
      now: number
    ) =>
      Effect.gen(function*() {
        if (client.tenant === undefined) {
          return yield* fail("unauthorized_client", "the client has no tenant to act for")
        }
        const scope = yield* narrow(grant.scope, client.scope ?? "", "a requested scope is not allowed")
        const audience = yield* audienceOf(grant.resource)
        // RFC 9068 §2.2: with no resource owner, `sub` is the client; Warden reads `sub` = `client_id` as a service.
        const tenants = client.tenants === undefined ? [] : [client.tenant, ...client.tenants]
        const access = yield* sign(
          {
            sub: client.clientId,
            client_id: client.clientId,
            aud: audience,
            tid: client.tenant,
            ...(new Set(tenants).size > 1 ? { tenants: [...new Set(tenants)] } : {}),
            ...scopeClaim(scope)
          },
          now,
          lifetimeOf(client)
        )
        return {
          access_token: access.token,
          token_type: "Bearer",
          expires_in: access.expiresIn,
          scope
        } satisfies TokenResponse
      })

    /**
     * RFC 8693: the calling service trades the user's access token for one meant for the next hop alone, with the
     * same subject, tenant and session, no more scope, no longer life, and the calling service in `act`.
     */
    const exchange = (client: Client, grant: Extract<Grant, { grant_type: typeof tokenExchange }>, now: number) =>
      Effect.gen(function*() {
        if (grant.subject_token_type !== accessTokenType) {
          return yield* fail("invalid_request", "the subject token must be an access token")
        }
        if (grant.audience === undefined || !audiences.has(grant.audience)) {
          return yield* fail("invalid_target", "the audience is not one this service issues tokens for")
        }
        const claims = yield* ownClaims(Redacted.value(grant.subject_token), now)
        if (
          claims === undefined || typeof claims.sub !== "string" || typeof claims.jti !== "string" ||
          typeof claims.exp !== "number" || typeof claims["tid"] !== "string"
        ) {
          return yield* fail("invalid_grant", "the subject token is not valid")
        }
        const revoked = yield* revocations.isRevoked({
          issuer: options.issuer,
          tokenId: claims.jti,
          subject: claims.sub,
          issuedAt: claims.iat ?? null
        }).pipe(Effect.mapError(unavailable))
        if (revoked) return yield* fail("invalid_grant", "the subject token is not valid")
        const scope = yield* narrow(
          grant.scope,
          typeof claims["scope"] === "string" ? claims["scope"] : "",
          "a requested scope is not in the subject token"
        )
        const previous = claims["act"]
        // No longer than the token it came from.
        const access = yield* sign(
          {
            sub: claims.sub,
            aud: grant.audience,
            client_id: claims["client_id"],
            tid: claims["tid"],
            ...(claims["tenants"] === undefined ? {} : { tenants: claims["tenants"] }),
            ...scopeClaim(scope),
            ...(claims["sid"] === undefined ? {} : { sid: claims["sid"] }),
            act: { sub: client.clientId, ...(previous === undefined ? {} : { act: previous }) }
          },
          now,
          lifetimeOf(client),
          claims.exp
        )
        if (typeof claims["sid"] === "string") {
          // Part of the session: a logout or a reused refresh token revokes it too.
          yield* refreshes.recordAccess(claims["sid"], access.issued).pipe(Effect.mapError(unavailable))
        }
        return {
          access_token: access.token,
          token_type: "Bearer",
          expires_in: access.expiresIn,
          scope,
          issued_token_type: accessTokenType
        } satisfies TokenResponse
      })

    const token = (client: Client, grant: Grant) =>
      Effect.gen(function*() {
        if (!client.grants.includes(grant.grant_type)) {
          return yield* fail("unauthorized_client", `the client may not use the ${grant.grant_type} grant`)
        }
        const now = yield* Clock.currentTimeMillis
        switch (grant.grant_type) {
          case "password":
            return yield* password(client, grant, now)
          case "refresh_token":
            return yield* refresh(client, grant, now)
          case "client_credentials":
            return yield* clientCredentials(client, grant, now)
          case tokenExchange:
            return yield* exchange(client, grant, now)
        }
      })

    const publicKeys = () => keys.map((k) => k.key)
    const signingKid = Effect.map(Clock.currentTimeMillis, (now) => signer(now).kid)
    /** The claims of an access token this service signed and still accepts; `undefined` for anything else. */
    const ownClaims = (token: string, now: number) =>
      Effect.promise(async () => {
        try {
          const { payload } = await jose.jwtVerify(
            token,
            jose.createLocalJWKSet({ keys: publicKeys().map((k) => k.publicJwk) }),
            { issuer: options.issuer, clockTolerance: skewSeconds, currentDate: new Date(now) }
          )
          return payload
        } catch {
          return undefined
        }
      })

    const revoke = (_client: Client, token: Redacted.Redacted<string>) =>
      Effect.gen(function*() {
        const value = Redacted.value(token)
        if (value.startsWith("rt_")) {
          const consumed = yield* refreshes.consume(tokenHash(value)).pipe(Effect.mapError(unavailable))
          if (consumed._tag === "Unknown" || consumed._tag === "Revoked") return
          const issued = yield* refreshes.revokeFamily(consumed.session.family).pipe(Effect.mapError(unavailable))
          return yield* revokeIssued(issued)
        }
        const claims = yield* ownClaims(value, yield* Clock.currentTimeMillis)
        if (claims === undefined) return
        if (typeof claims.jti === "string" && typeof claims.exp === "number") {
          yield* revocations.revoke({ issuer: options.issuer, tokenId: claims.jti }, claims.exp + skewSeconds).pipe(
            Effect.mapError(unavailable)
          )
        }
        if (typeof claims["sid"] === "string") {
          const issued = yield* refreshes.revokeFamily(claims["sid"]).pipe(Effect.mapError(unavailable))
          yield* revokeIssued(issued)
        }
      })

    const jwks = Effect.map(Clock.currentTimeMillis, (now) => {
      for (let i = keys.length - 1; i >= 0; i--) {
        const retireAt = keys[i]!.retireAt
        if (retireAt !== null && retireAt <= now) keys.splice(i, 1)
      }
      return TokenIssuer.jwks(publicKeys())
    })

    const rotateKey = Effect.gen(function*() {
      const next = yield* TokenIssuer.generateKey(algorithm)
      const now = yield* Clock.currentTimeMillis
      const signsFrom = now + aheadMs
      // The key it replaces signs until `signsFrom`; its last token expires the longest lifetime after that, and a
      // verifier may accept it for the skew more.
      keys[keys.length - 1]!.retireAt = signsFrom + (longestSeconds + skewSeconds) * 1000
      keys.push({ key: next, signsFrom, retireAt: null })
      return next.kid
    })

    const base = options.issuer.replace(/\/$/, "")
    return {
      findClient: (clientId) => clients.get(clientId)?.client,
      authenticateClient,
      token,
      revoke,
      jwks,
      rotateKey,
      signingKid,
      jwksMaxAge,
      metadata: {
        issuer: options.issuer,
        token_endpoint: `${base}/token`,
        jwks_uri: `${base}/jwks`,
        revocation_endpoint: `${base}/revoke`,
        grant_types_supported: ["password", "refresh_token", "client_credentials", tokenExchange],
        token_endpoint_auth_methods_supported: ["client_secret_basic", "client_secret_post"],
        response_types_supported: []
      }
    }
  })

/**
 * The service as a layer.
 *
 * @since 0.3.0
 * @category layers
 */
export const layer = (options: Options): Layer.Layer<TokenService, never, UserStore | RefreshStore | RevocationStore> =>
  Layer.effect(TokenService, make(options))

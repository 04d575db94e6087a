/**
 * The seam between transports and token formats: credentials in, an
 * authenticated `Principal` out, or `Unauthenticated`.
 *
 * Production implementations verify tokens (JWT in `@warden/jwt`, RFC 7662
 * introspection in `@warden/oauth`). There is deliberately no default
 * implementation: a layer that accepts tokens without verifying them does not
 * exist outside `layerTest`.
 *
 * @since 0.1.0
 */
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import { Unauthenticated } from "./AuthError.js"
import type { Credential } from "./Credential.js"
import { secretOf, unsupported } from "./Credential.js"
import type { Principal } from "./Principal.js"

/** Authenticates credentials. */
export class Authenticator extends Context.Tag("@warden/core/Authenticator")<Authenticator, {
  readonly authenticate: (credential: Credential) => Effect.Effect<Principal, Unauthenticated>
  /**
   * Optional: the same answer without running an Effect, when it needs no
   * I/O (a verified-token cache hit, a table); `undefined` when it does, and
   * `authenticate` must run. The request pipeline's fast path.
   *
   * @since 0.2.0
   */
  readonly authenticateNow?: (credential: Credential, nowMillis: number) => Principal | Unauthenticated | undefined
}>() {}

/**
 * For tests only: an authenticator that knows a fixed table of tokens. A
 * token not in the table is `invalid_token`; a principal whose `expiresAt`
 * has passed (by the Effect `Clock`, so `TestClock` controls it) is
 * `expired`.
 */
export const layerTest = (
  table: Iterable<readonly [token: string, principal: Principal]>
): Layer.Layer<Authenticator> => {
  const principals = new Map(table)
  const unknown = Unauthenticated.of("inactive", "the token is not recognised")
  const expired = Unauthenticated.of("expired", "the token has expired")
  const authenticateNow = (credential: Credential, now: number): Principal | Unauthenticated => {
    const principal = principals.get(secretOf(credential))
    if (principal === undefined) return unknown
    if (principal.expiresAt !== null && principal.expiresAt * 1000 <= now) return expired
    return principal
  }
  return Layer.succeed(Authenticator, {
    authenticate: (credential) =>
      Effect.flatMap(Clock.currentTimeMillis, (now) => {
        const answer = authenticateNow(credential, now)
        return answer instanceof Unauthenticated ? Effect.fail(answer) : Effect.succeed(answer)
      }),
    authenticateNow
  })
}

/**
 * One authenticator per kind of credential, as the service accepts them:
 * each credential goes to the authenticator of its kind, and a kind with
 * none is refused (`unsupported_credential`).
 *
 * @since 0.2.0
 * @example
 * ```ts
 * const Accepted = Authenticator.layerByKind({
 *   Bearer: JwtVerifier.layerAuthenticator.pipe(Layer.provide(verifier)),
 *   ApiKey: ApiKey.layerAuthenticator.pipe(Layer.provide(ApiKey.layerMemory))
 * })
 * ```
 */
export const layerByKind = <E1 = never, R1 = never, E2 = never, R2 = never, E3 = never, R3 = never>(kinds: {
  readonly Bearer?: Layer.Layer<Authenticator, E1, R1>
  readonly ApiKey?: Layer.Layer<Authenticator, E2, R2>
  readonly PeerCertificate?: Layer.Layer<Authenticator, E3, R3>
}): Layer.Layer<Authenticator, E1 | E2 | E3, Exclude<R1 | R2 | R3, Scope.Scope>> =>
  Layer.scoped(
    Authenticator,
    Effect.gen(function*() {
      const byKind = new Map<Credential["_tag"], Context.Tag.Service<Authenticator>>()
      for (const kind of ["Bearer", "ApiKey", "PeerCertificate"] as const) {
        const layer = kinds[kind] as Layer.Layer<Authenticator, E1 | E2 | E3, R1 | R2 | R3> | undefined
        if (layer !== undefined) byKind.set(kind, Context.get(yield* Layer.build(layer), Authenticator))
      }
      return {
        authenticate: (credential) => {
          const one = byKind.get(credential._tag)
          return one === undefined ? Effect.fail(unsupported(credential)) : one.authenticate(credential)
        },
        authenticateNow: (credential, now) => {
          const one = byKind.get(credential._tag)
          return one === undefined ? unsupported(credential) : one.authenticateNow?.(credential, now)
        }
      }
    })
  ) as Layer.Layer<Authenticator, E1 | E2 | E3, Exclude<R1 | R2 | R3, Scope.Scope>>

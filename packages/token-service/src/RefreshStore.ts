/**
 * Refresh tokens and their families. A login starts a family; each refresh
 * consumes its refresh token (single use) and issues the next one in the
 * same family. A refresh token used a second time is reuse: someone holds a
 * copy, so the store revokes the whole family at once, and the token
 * service revokes every access token the family was given.
 *
 * Tokens are kept by their SHA-256, never as themselves.
 *
 * @since 0.3.0
 */
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"

/**
 * What a refresh token continues: the family's subject, tenants, scope and
 * client, and when the family ends (epoch seconds).
 *
 * @since 0.3.0
 * @category models
 */
export interface Session {
  readonly family: string
  readonly subject: string
  readonly tenant: string
  readonly tenants: ReadonlyArray<string>
  readonly scope: string
  readonly clientId: string
  readonly expiresAt: number
  /** The `aud` the login asked for (RFC 8707 `resource`), kept by every refresh; the service's default when absent. */
  readonly audience?: string | ReadonlyArray<string>
}

/**
 * An access token issued in a family, kept so it can be revoked with it.
 *
 * @since 0.3.0
 * @category models
 */
export interface Issued {
  readonly tokenId: string
  readonly expiresAt: number
}

/**
 * What consuming a refresh token found: its session (first use), reuse
 * (the family is now revoked; its access tokens are listed), a family
 * revoked earlier, or nothing.
 *
 * @since 0.3.0
 * @category models
 */
export type Consumed =
  | { readonly _tag: "Fresh"; readonly session: Session }
  | { readonly _tag: "Reused"; readonly session: Session; readonly issued: ReadonlyArray<Issued> }
  | { readonly _tag: "Revoked" }
  | { readonly _tag: "Unknown" }

/**
 * The store could not answer: the refresh is refused (`temporarily_unavailable`).
 *
 * @since 0.3.0
 * @category errors
 */
export class RefreshStoreUnavailable extends Data.TaggedError("@warden/RefreshStoreUnavailable")<{
  readonly message: string
}> {}

/**
 * Refresh tokens by hash, and families.
 *
 * @since 0.3.0
 * @category models
 */
export class RefreshStore extends Context.Tag("@warden/token-service/RefreshStore")<RefreshStore, {
  /** Keeps a new refresh token of `session`'s family until the family ends. */
  readonly save: (tokenHash: string, session: Session) => Effect.Effect<void, RefreshStoreUnavailable>
  /** Uses a refresh token up, atomically: of concurrent calls with one token exactly one finds it `Fresh`. */
  readonly consume: (tokenHash: string) => Effect.Effect<Consumed, RefreshStoreUnavailable>
  /** Records an access token issued in a family. */
  readonly recordAccess: (family: string, issued: Issued) => Effect.Effect<void, RefreshStoreUnavailable>
  /** Revokes a family (logout); returns the access tokens it was given. */
  readonly revokeFamily: (family: string) => Effect.Effect<ReadonlyArray<Issued>, RefreshStoreUnavailable>
}>() {}

/**
 * The store in this process's memory; entries are swept once their family ends.
 *
 * @since 0.3.0
 * @category layers
 */
export const layerMemory: Layer.Layer<RefreshStore> = Layer.sync(RefreshStore, () => {
  const tokens = new Map<string, { readonly session: Session; used: boolean }>()
  const families = new Map<string, { revoked: boolean; readonly issued: Array<Issued>; readonly expiresAt: number }>()
  const family = (session: Session) => {
    let f = families.get(session.family)
    if (f === undefined) families.set(session.family, f = { revoked: false, issued: [], expiresAt: session.expiresAt })
    return f
  }
  const sweep = (now: number) => {
    for (const [hash, t] of tokens) if (t.session.expiresAt <= now) tokens.delete(hash)
    for (const [id, f] of families) if (f.expiresAt <= now) families.delete(id)
  }
  const now = Effect.map(Clock.currentTimeMillis, (ms) => ms / 1000)
  return {
    save: (hash, session) =>
      Effect.map(now, (t) => {
        sweep(t)
        family(session)
        tokens.set(hash, { session, used: false })
      }),
    consume: (hash) =>
      Effect.map(now, (t): Consumed => {
        const token = tokens.get(hash)
        if (token === undefined || token.session.expiresAt <= t) return { _tag: "Unknown" }
        const f = family(token.session)
        if (f.revoked) return { _tag: "Revoked" }
        if (token.used) {
          f.revoked = true
          return { _tag: "Reused", session: token.session, issued: [...f.issued] }
        }
        token.used = true
        return { _tag: "Fresh", session: token.session }
      }),
    recordAccess: (id, issued) =>
      Effect.sync(() => {
        families.get(id)?.issued.push(issued)
      }),
    revokeFamily: (id) =>
      Effect.sync(() => {
        const f = families.get(id)
        if (f === undefined) return []
        f.revoked = true
        return [...f.issued]
      })
  }
})

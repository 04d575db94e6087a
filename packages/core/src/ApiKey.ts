/**
 * API keys: for callers that hold a long-lived secret rather than a token
 * (a Python service, a script). A key is a public prefix, a public id and a
 * 256-bit secret, `wk_live_<16 hex id><64 hex secret>`; only the SHA-256 of
 * the whole key is stored, and a presented key is compared with it in
 * constant time. Each key names its principal (a service or a user), its
 * tenant(s), its scopes and grants, and an expiry. Rotation issues a new key
 * for the same principal and keeps the old one valid for an overlap window;
 * revocation ends a key at once.
 *
 * A key is high-entropy, so a fast hash is enough: nothing about it can be
 * guessed from the hash, unlike a password.
 *
 * ```ts
 * const issued = yield* ApiKey.issue({ prefix: "wk_live", subject: "billing", kind: "service", tenant: "acme",
 *   scopes: ["invoices.read"] })
 * // hand issued.key to the caller once; the store keeps issued.stored
 * ```
 *
 * @since 0.2.0
 */
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import * as crypto from "node:crypto"
import { Authenticator } from "./Authenticator.js"
import { Unauthenticated } from "./AuthError.js"
import * as Credential from "./Credential.js"
import * as Principal from "./Principal.js"

/** What a stored key grants: the principal it authenticates as. */
export interface Grants {
  readonly kind: "user" | "service"
  readonly subject: string
  readonly tenant: string
  readonly tenants: ReadonlyArray<string>
  readonly scopes: ReadonlyArray<string>
  readonly permissions: { readonly allow: ReadonlyArray<string>; readonly deny: ReadonlyArray<string> }
}

/** A key as a store keeps it: never the key itself. */
export interface StoredKey extends Grants {
  /** The public id, the key's lookup key. */
  readonly id: string
  /** The prefix the key was issued with (public: it names the kind of key). */
  readonly prefix: string
  /** SHA-256 of the whole key, base64url. */
  readonly hash: string
  /** Epoch ms after which the key is refused; `null` for no expiry. */
  readonly notAfter: number | null
  /** Epoch ms from which the key is refused, once revoked. */
  readonly revokedAt: number | null
}

/** A store that cannot answer: the key is refused (`unavailable`), never accepted. */
export class StoreUnavailable extends Data.TaggedError("ApiKeyStoreUnavailable")<{ readonly message: string }> {}

/** Where stored keys live. An in-memory layer here; shared stores (Redis) implement the same interface. */
export class ApiKeyStore extends Context.Tag("@warden/core/ApiKeyStore")<ApiKeyStore, {
  readonly find: (id: string) => Effect.Effect<StoredKey | undefined, StoreUnavailable>
  /** Optional: the same answer without an Effect, for a store in memory. */
  readonly findNow?: (id: string) => StoredKey | undefined
  readonly save: (key: StoredKey) => Effect.Effect<void, StoreUnavailable>
}>() {}

/** The store in memory. */
export const layerMemory: Layer.Layer<ApiKeyStore> = Layer.sync(ApiKeyStore, () => {
  const keys = new Map<string, StoredKey>()
  return {
    find: (id) => Effect.sync(() => keys.get(id)),
    findNow: (id) => keys.get(id),
    save: (key) => Effect.sync(() => void keys.set(key.id, key))
  }
})

const prefixPattern = /^[a-z][a-z0-9]*(_[a-z0-9]+)*$/
const idLength = 16
const secretLength = 64
const keyPattern = /^([a-z][a-z0-9]*(?:_[a-z0-9]+)*)_([0-9a-f]{16})([0-9a-f]{64})$/

/** The parts of a key's text, or `undefined` when it is not one. */
export const parse = (
  key: string
): { readonly prefix: string; readonly id: string } | undefined => {
  if (key.length > 128) return undefined
  const match = keyPattern.exec(key)
  return match === null ? undefined : { prefix: match[1]!, id: match[2]! }
}

const hashOf = (key: string): Buffer => crypto.createHash("sha256").update(key, "utf8").digest()

/** What `issue` needs: the principal's fields, a prefix, and how long the key lives. */
export interface IssueOptions {
  /** Lower-case words joined by `_`, e.g. `wk_live`. Default `wk`. */
  readonly prefix?: string
  readonly kind?: "user" | "service"
  readonly subject: string
  readonly tenant: string
  readonly tenants?: ReadonlyArray<string>
  readonly scopes?: ReadonlyArray<string>
  readonly permissions?: { readonly allow?: ReadonlyArray<string>; readonly deny?: ReadonlyArray<string> }
  /** How long the key is accepted. Default: until revoked. */
  readonly lifetime?: Duration.DurationInput
}

/** A key that was just issued: the key to hand over once, and what the store keeps. */
export interface Issued {
  readonly key: Redacted.Redacted<string>
  readonly stored: StoredKey
}

/** Options `issue` refuses: a prefix that is not lower-case words joined by `_`, or fields no principal can have. */
export class InvalidKeyOptions extends Data.TaggedError("InvalidKeyOptions")<{ readonly message: string }> {}

/** Issues a key: a new id and a 256-bit secret from the system's CSPRNG. The key itself is never stored. */
export const issue = (options: IssueOptions): Effect.Effect<Issued, InvalidKeyOptions> =>
  Effect.gen(function*() {
    const prefix = options.prefix ?? "wk"
    if (!prefixPattern.test(prefix) || prefix.length > 32) {
      return yield* new InvalidKeyOptions({
        message: "an API key prefix is lower-case letters and digits in words joined by '_', at most 32 characters"
      })
    }
    const now = yield* Clock.currentTimeMillis
    const id = crypto.randomBytes(idLength / 2).toString("hex")
    const key = `${prefix}_${id}${crypto.randomBytes(secretLength / 2).toString("hex")}`
    const stored: StoredKey = {
      id,
      prefix,
      hash: hashOf(key).toString("base64url"),
      kind: options.kind ?? "service",
      subject: options.subject,
      tenant: options.tenant,
      tenants: [...new Set([options.tenant, ...(options.tenants ?? [])])],
      scopes: options.scopes ?? [],
      permissions: { allow: options.permissions?.allow ?? [], deny: options.permissions?.deny ?? [] },
      notAfter: options.lifetime === undefined ? null : now + Duration.toMillis(options.lifetime),
      revokedAt: null
    }
    if (principalOf(stored) === undefined) {
      return yield* new InvalidKeyOptions({
        message: "the key's subject, tenants or scopes are not valid ones (see Principal.make)"
      })
    }
    return { key: Redacted.make(key), stored }
  })

/**
 * Issues a key for `id`'s principal and saves it; `id` stays valid for
 * `overlap` more (never longer than it would have), so callers can move to
 * the new key without a gap.
 */
export const rotate = (
  id: string,
  options: { readonly overlap: Duration.DurationInput; readonly lifetime?: Duration.DurationInput }
): Effect.Effect<Issued, StoreUnavailable | UnknownKey | InvalidKeyOptions, ApiKeyStore> =>
  Effect.gen(function*() {
    const store = yield* ApiKeyStore
    const old = yield* store.find(id)
    if (old === undefined || old.revokedAt !== null) return yield* new UnknownKey({ id })
    const now = yield* Clock.currentTimeMillis
    const issued = yield* issue({
      prefix: old.prefix,
      kind: old.kind,
      subject: old.subject,
      tenant: old.tenant,
      tenants: old.tenants,
      scopes: old.scopes,
      permissions: old.permissions,
      ...(options.lifetime === undefined ? {} : { lifetime: options.lifetime })
    })
    const overlapEnds = now + Duration.toMillis(options.overlap)
    yield* store.save({ ...old, notAfter: old.notAfter === null ? overlapEnds : Math.min(old.notAfter, overlapEnds) })
    yield* store.save(issued.stored)
    return issued
  })

/** A key id the store does not have (or has revoked). */
export class UnknownKey extends Data.TaggedError("UnknownKey")<{ readonly id: string }> {}

/** Revokes a key from now on. */
export const revoke = (id: string): Effect.Effect<void, StoreUnavailable | UnknownKey, ApiKeyStore> =>
  Effect.gen(function*() {
    const store = yield* ApiKeyStore
    const old = yield* store.find(id)
    if (old === undefined) return yield* new UnknownKey({ id })
    const now = yield* Clock.currentTimeMillis
    if (old.revokedAt === null) yield* store.save({ ...old, revokedAt: now })
  })

const notAKey = Unauthenticated.of("malformed", "the API key is not in the form this service issues")
const unknown = Unauthenticated.of("inactive", "the API key is not recognised")
const expired = Unauthenticated.of("expired", "the API key has expired")
const revoked = Unauthenticated.of("revoked", "the API key has been revoked")
const unavailable = Unauthenticated.of("unavailable", "the API key store is unavailable")
/** Compared against when the id is unknown, so an unknown key costs what a wrong one does. */
const nobody = hashOf(`wk_${"0".repeat(idLength + secretLength)}`)

/** The answer for a presented key and what the store holds for its id. */
const decide = (
  key: string,
  id: string,
  stored: StoredKey | undefined,
  now: number,
  principals: Map<StoredKey, Principal.Principal>
): Principal.Principal | Unauthenticated => {
  const presented = hashOf(key)
  const expected = stored === undefined ? nobody : Buffer.from(stored.hash, "base64url")
  const same = expected.length === presented.length && crypto.timingSafeEqual(expected, presented)
  if (stored === undefined || !same || stored.id !== id) return unknown
  if (stored.revokedAt !== null && stored.revokedAt <= now) return revoked
  if (stored.notAfter !== null && stored.notAfter <= now) return expired
  const known = principals.get(stored)
  if (known !== undefined) return known
  const principal = principalOf(stored)
  if (principal === undefined) return unknown
  principals.set(stored, principal)
  return principal
}

/** The principal a record authenticates as, or `undefined` for a record whose fields are not valid ones. */
const principalOf = (stored: StoredKey): Principal.Principal | undefined => {
  try {
    return Principal.make({
      kind: stored.kind,
      subject: stored.subject,
      tenant: stored.tenant,
      tenants: stored.tenants,
      clientId: stored.kind === "service" ? stored.subject : null,
      issuer: `api-key:${stored.prefix}`,
      tokenId: stored.id,
      expiresAt: stored.notAfter === null ? null : Math.floor(stored.notAfter / 1000),
      authenticatedBy: "api_key",
      scopes: stored.scopes,
      permissions: stored.permissions
    })
  } catch {
    return undefined
  }
}

/**
 * The `Authenticator` for API keys, over the `ApiKeyStore`. Refuses other
 * credentials (`unsupported_credential`); a key in another form is
 * `malformed`, an unknown or wrong one `inactive`, then `revoked` and
 * `expired`; a store that cannot answer refuses (`unavailable`).
 */
export const layerAuthenticator: Layer.Layer<Authenticator, never, ApiKeyStore> = Layer.effect(
  Authenticator,
  Effect.map(ApiKeyStore, (store) => {
    // One principal per stored record (a record changes by replacement), so grants compile once per key.
    const principals = new Map<StoredKey, Principal.Principal>()
    const forget = () => {
      if (principals.size > 10_000) principals.clear()
    }
    const parsed = (credential: Credential.Credential) => {
      if (credential._tag !== "ApiKey") return Credential.unsupported(credential)
      const key = Redacted.value(credential.key)
      const parts = parse(key)
      return parts === undefined ? notAKey : { key, id: parts.id }
    }
    return {
      authenticate: (credential) => {
        const p = parsed(credential)
        if (p instanceof Unauthenticated) return Effect.fail(p)
        return Effect.flatMap(
          Effect.zip(Effect.either(store.find(p.id)), Clock.currentTimeMillis),
          ([found, now]) => {
            if (found._tag === "Left") return Effect.fail(unavailable)
            forget()
            const answer = decide(p.key, p.id, found.right, now, principals)
            return answer instanceof Unauthenticated ? Effect.fail(answer) : Effect.succeed(answer)
          }
        )
      },
      ...(store.findNow === undefined ? {} : {
        authenticateNow: (credential: Credential.Credential, now: number) => {
          const p = parsed(credential)
          if (p instanceof Unauthenticated) return p
          forget()
          return decide(p.key, p.id, store.findNow!(p.id), now, principals)
        }
      })
    }
  })
)

/**
 * Password hashes: scrypt (RFC 7914) from Node's own `node:crypto`, with a
 * random salt per password, stored as one self-describing string so the
 * cost can be raised later without breaking stored hashes. Verification
 * compares in constant time, and `verifyOrNothing` spends the same time on
 * an unknown user as on a wrong password.
 *
 * @example
 * ```ts
 * const stored = yield* Password.hash(Redacted.make("correct horse"))
 * const ok = yield* Password.verify(Redacted.make("correct horse"), stored) // true
 * ```
 *
 * @since 0.3.0
 */
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import { randomBytes, scrypt, timingSafeEqual } from "node:crypto"

/**
 * scrypt's cost: `N` (a power of two), `r` and `p`. The default, N = 2^15,
 * r = 8, p = 1, takes tens of milliseconds and 32 MiB per hash.
 *
 * @since 0.3.0
 * @category models
 */
export interface Cost {
  readonly N: number
  readonly r: number
  readonly p: number
}

/** @since 0.3.0 */
export const defaultCost: Cost = { N: 2 ** 15, r: 8, p: 1 }

const keyLength = 32

const derive = (password: string, salt: Buffer, cost: Cost): Effect.Effect<Buffer> =>
  Effect.async<Buffer>((resume) => {
    scrypt(password.normalize("NFC"), salt, keyLength, { ...cost, maxmem: 256 * cost.N * cost.r }, (error, key) => {
      // Only invalid parameters make scrypt fail, and `parse` checked them: a defect.
      if (error !== null) resume(Effect.die(error))
      else resume(Effect.succeed(key))
    })
  })

/**
 * Hashes a password: `scrypt$<N>$<r>$<p>$<salt>$<hash>` (base64url).
 *
 * @since 0.3.0
 * @category constructors
 */
export const hash = (password: Redacted.Redacted<string>, cost: Cost = defaultCost): Effect.Effect<string> =>
  Effect.suspend(() => {
    const salt = randomBytes(16)
    return Effect.map(
      derive(Redacted.value(password), salt, cost),
      (key) => `scrypt$${cost.N}$${cost.r}$${cost.p}$${salt.toString("base64url")}$${key.toString("base64url")}`
    )
  })

const parse = (stored: string) => {
  const [scheme, n, r, p, salt, key] = stored.split("$")
  const cost = { N: Number(n), r: Number(r), p: Number(p) }
  const sane = scheme === "scrypt" && Number.isInteger(cost.N) && cost.N >= 2 && (cost.N & (cost.N - 1)) === 0 &&
    cost.N <= 2 ** 20 && Number.isInteger(cost.r) && cost.r >= 1 && cost.r <= 32 && Number.isInteger(cost.p) &&
    cost.p >= 1 && cost.p <= 16 && salt !== undefined && key !== undefined
  return sane ? { cost, salt: Buffer.from(salt, "base64url"), key: Buffer.from(key, "base64url") } : undefined
}

/**
 * Whether `password` matches the stored hash, compared in constant time. A
 * stored string that is not a hash of this module matches nothing.
 *
 * @since 0.3.0
 * @category verification
 */
export const verify = (password: Redacted.Redacted<string>, stored: string): Effect.Effect<boolean> =>
  Effect.suspend(() => {
    const parsed = parse(stored)
    if (parsed === undefined || parsed.key.length !== keyLength) return Effect.succeed(false)
    return Effect.map(
      derive(Redacted.value(password), parsed.salt, parsed.cost),
      (key) => timingSafeEqual(key, parsed.key)
    )
  })

/** Hashed once, lazily: what an unknown user's password is compared against. */
let nobody: string | undefined

/**
 * `verify`, or, when there is no stored hash (an unknown user), the same
 * work against a hash nobody's password matches: the answer takes as long
 * either way, so timing does not tell which usernames exist.
 *
 * @since 0.3.0
 * @category verification
 */
export const verifyOrNothing = (
  password: Redacted.Redacted<string>,
  stored: string | undefined
): Effect.Effect<boolean> =>
  stored !== undefined ?
    verify(password, stored) :
    Effect.gen(function*() {
      nobody ??= yield* hash(Redacted.make(randomBytes(32).toString("hex")))
      yield* verify(password, nobody)
      return false
    })

/**
 * Verifies JWT bearer tokens and turns their claims into a `Principal`: the
 * production `Authenticator` for JWTs.
 *
 * First a length cap and the strict compact check (three canonical
 * base64url segments; header and claims strict JSON objects with no repeated
 * member), and every header member Warden reads of its JSON type (`alg`,
 * `kid`, `typ`, `cty` strings, `crit` an array of strings, `b64` absent or
 * `true`). Then an algorithm allow-list, the key from the `KeyStore` (jose
 * imports and checks it), the signature with node:crypto (synchronous, no
 * WebCrypto), and the claims: exact issuer(s), audience, `typ` (`at+jwt` by
 * default, RFC 9068), a required `exp`, `nbf`, `iat` not in the future beyond
 * the clock skew, and a maximum lifetime. The Effect `Clock` is the time
 * source, so `TestClock` controls it.
 *
 * A token is accepted strictly before `exp` plus the clock skew: one window,
 * `acceptedUntil`, that the verified-token cache serves and `revoke` keeps a
 * revocation for.
 * Every failure is `Unauthenticated` with a closed reason; hostile input is
 * never a defect.
 *
 * @since 0.1.0
 */
import * as FetchHttpClient from "@effect/platform/FetchHttpClient"
import * as Authenticator from "@warden/core/Authenticator"
import { Unauthenticated } from "@warden/core/AuthError"
import * as Claims from "@warden/core/Claims"
import * as Credential from "@warden/core/Credential"
import * as Metrics from "@warden/core/Metrics"
import type { Principal } from "@warden/core/Principal"
import * as Settings from "@warden/core/Settings"
import * as Clock from "effect/Clock"
import * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import * as Context from "effect/Context"
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as Metric from "effect/Metric"
import * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import * as crypto from "node:crypto"
import * as Compact from "./internal/compact.js"
import * as Header from "./internal/header.js"
import { Lru } from "./internal/lru.js"
import * as Native from "./internal/native.js"
import type { JwksFetchError } from "./JwksSource.js"
import * as KeyStore from "./KeyStore.js"
import * as RevocationStore from "./RevocationStore.js"

/** Asymmetric algorithms accepted by default. */
export const defaultAlgorithms = ["RS256", "PS256", "ES256", "EdDSA"] as const

/** Algorithms Warden can be configured to accept. */
export const algorithms = [
  "RS256",
  "RS384",
  "RS512",
  "PS256",
  "PS384",
  "PS512",
  "ES256",
  "ES384",
  "ES512",
  "EdDSA",
  "Ed25519",
  "HS256",
  "HS384",
  "HS512"
] as const

/** One of `algorithms`. */
export type Algorithm = (typeof algorithms)[number]

const knownAlgorithms: ReadonlySet<string> = new Set<string>(algorithms)

/** What a verifier checks, and how it reads claims. */
export interface Options extends Claims.Mapping {
  /** Accepted issuers, compared exactly. */
  readonly issuers: readonly [string, ...Array<string>]
  /** Accepted audiences: the token's `aud` must contain one of them. */
  readonly audience: string | readonly [string, ...Array<string>]
  /** The algorithm allow-list. Default: RS256, PS256, ES256, EdDSA. HS* need `hmacSecret`. */
  readonly algorithms?: ReadonlyArray<Algorithm>
  /**
   * The shared secret for HS* algorithms: at least as long as the hash (32 bytes for HS256, 48 for HS384, 64 for
   * HS512; RFC 7518 §3.2). Only used when an HS* algorithm is allowed.
   */
  readonly hmacSecret?: Redacted.Redacted<string | Uint8Array>
  /**
   * The required `typ` header (RFC 9068 `at+jwt` by default), or the types
   * accepted (`["at+jwt", "JWT"]` for providers whose machine tokens say
   * `JWT`); `null` to accept any or none.
   */
  readonly type?: string | readonly [string, ...Array<string>] | null
  readonly clockSkew?: Duration.DurationInput
  /** The longest accepted lifetime, `exp` minus `iat` (or `nbf`). Default 24 hours. */
  readonly maxLifetime?: Duration.DurationInput
  /** The longest accepted token, in bytes. Default 8 KiB. */
  readonly maxTokenBytes?: number
  /** Verified-token cache size; 0 disables it. Default 10,000. */
  readonly cacheSize?: number
}

/** The verifier. */
export class JwtVerifier extends Context.Tag("@warden/jwt/JwtVerifier")<JwtVerifier, {
  readonly verify: (token: string) => Effect.Effect<Principal, Unauthenticated>
  /**
   * `verify` without running an Effect, at `nowMillis`: the answer when it needs no I/O (a cache hit, or a token
   * whose key is already imported, with a revocation store that answers from memory); `undefined` when it does,
   * and `verify` must run. What `layerAuthenticator`'s `authenticateNow` calls.
   *
   * @since 0.2.0
   */
  readonly verifyNow: (token: string, nowMillis: number) => Principal | Unauthenticated | undefined
  /**
   * `verifyNow` for a bearer credential. A credential object the cache served before (a transport hands the same
   * one for a header it parsed lately) is answered from the entry remembered on it (`Credential.recall`), checked
   * again for its acceptance window, its key and revocation: no lookup by the token's text. What
   * `layerAuthenticator`'s `authenticateNow` calls.
   *
   * @since 0.3.0
   */
  readonly verifyBearerNow: (
    credential: Credential.Bearer,
    nowMillis: number
  ) => Principal | Unauthenticated | undefined
  /** How many verified tokens the cache holds. */
  readonly cached: Effect.Effect<number>
  /**
   * Until when (epoch seconds) the verifier accepts the principal's token: its `exp` plus the clock skew. The one
   * acceptance window the verifier, its cache and a revocation all use. `null` for a principal without expiry.
   *
   * @since 0.2.0
   */
  readonly acceptedUntil: (principal: Principal) => number | null
  /**
   * Revokes the principal's token, by its issuer and `jti`, for as long as the verifier would accept it.
   *
   * @since 0.2.0
   */
  readonly revoke: (principal: Principal) => Effect.Effect<void, NotRevocable | RevocationStore.RevocationUnavailable>
  /**
   * Refuses every token of a subject (from its issuer) issued at or before `before` (epoch seconds, default now):
   * logout everywhere, tokens without `jti` included. The cutoff is kept as long as such a token could be
   * accepted: `before` plus `maxLifetime` plus the clock skew. While it is kept, a token of the subject that does
   * not say when it was issued (no `iat`) is refused too.
   *
   * @since 0.3.0
   */
  readonly revokeSubject: (
    subject: RevocationStore.SubjectRef,
    before?: number
  ) => Effect.Effect<void, RevocationStore.RevocationUnavailable>
}>() {}

/**
 * A principal whose token cannot be revoked: it carries no `jti` (or no `exp`).
 *
 * @since 0.2.0
 * @category errors
 */
export class NotRevocable extends Data.TaggedError("NotRevocable")<{ readonly message: string }> {}

/** Options that cannot work: an HS* algorithm without a long enough secret, an empty allow-list. */
export class InvalidOptions extends Schema.TaggedError<InvalidOptions>()("InvalidOptions", {
  message: Schema.String
}) {}

const verifications = Metric.counter("warden_jwt_verifications_total", {
  description: "JWT verifications, by outcome"
})
const cacheLookups = Metric.counter("warden_jwt_cache_lookups_total", {
  description: "Verified-token cache lookups, by result"
})

/** Verifications by outcome (tagged `outcome`) and cache lookups by result (tagged `result`). */
export const metrics = { verifications, cacheLookups } as const

const cacheLookupsBy = Metrics.taggedBy(cacheLookups, "result")
const verificationsBy = Metrics.taggedBy(verifications, "outcome")
const cacheHits = cacheLookupsBy("hit")
const cacheMisses = cacheLookupsBy("miss")
const verifiedOk = verificationsBy("ok")

const claimsRefusal = (description: string) => Unauthenticated.of("claims", description)

/**
 * Which registered claim a JWT access token must carry well-formed (RFC 7519 §4.1, RFC 9068) is missing or
 * ill-typed, as a refusal; `undefined` when all are well-formed.
 */
const registeredProblem = (claims: Readonly<Record<string, unknown>>): Unauthenticated | undefined => {
  const { aud, client_id, exp, iat, iss, jti, nbf, scope, sub } = claims
  if (iss === undefined) return claimsRefusal("the token has no 'iss' claim")
  if (typeof iss !== "string") return claimsRefusal("the 'iss' claim must be a string")
  if (aud === undefined) return claimsRefusal("the token has no 'aud' claim")
  if (typeof aud !== "string" && !(Array.isArray(aud) && aud.every((a) => typeof a === "string"))) {
    return claimsRefusal("the 'aud' claim must be a string or an array of strings")
  }
  if (exp === undefined) return claimsRefusal("the token has no 'exp' claim")
  if (typeof exp !== "number") return claimsRefusal("the 'exp' claim must be a number")
  if (nbf !== undefined && typeof nbf !== "number") return claimsRefusal("the 'nbf' claim must be a number")
  if (iat !== undefined && typeof iat !== "number") return claimsRefusal("the 'iat' claim must be a number")
  if (sub !== undefined && typeof sub !== "string") return claimsRefusal("the 'sub' claim must be a string")
  if (client_id !== undefined && typeof client_id !== "string") {
    return claimsRefusal("the 'client_id' claim must be a string")
  }
  if (jti !== undefined && (typeof jti !== "string" || jti.length < 1 || jti.length > 256)) {
    return claimsRefusal("the 'jti' claim must be a string of 1 to 256 characters")
  }
  if (scope !== undefined && typeof scope !== "string") return claimsRefusal("the 'scope' claim must be a string")
  return undefined
}

interface Cached {
  readonly principal: Principal
  /** The end of the acceptance window, epoch ms: the entry serves strictly before it. */
  readonly acceptedUntilMs: number
  /** The exact key that verified the token: the entry serves only while that key is current. */
  readonly found: KeyStore.FoundKey
}

/** What the checks of a header found: the members the key lookup reads, and whether `typ` is the one expected. */
interface HeaderFacts {
  readonly header: Readonly<Record<string, unknown>>
  readonly alg: string
  readonly kid: string | undefined
  readonly typeAccepted: boolean
}

/** A token that passed the compact and header checks. */
interface Parsed {
  readonly parts: Compact.Parts
  readonly facts: HeaderFacts
}

/** A verification that waits for the key: an unknown kid, a stale set, a key not imported yet. */
class WaitingForKey {
  constructor(readonly parsed: Parsed, readonly digest: string | undefined) {}
}

/** A verification that waits for the revocation store. */
class WaitingForRevocation {
  constructor(
    readonly principal: Principal,
    /** What to cache once the token is known not revoked; `undefined` for a cache hit. */
    readonly entry: Cached | undefined,
    readonly digest: string | undefined
  ) {}
}

type Pending = WaitingForKey | WaitingForRevocation

const isPending = (step: Principal | Unauthenticated | Pending): step is Pending =>
  step instanceof WaitingForKey || step instanceof WaitingForRevocation

/** `typ` as jose compares it (RFC 7515 §4.1.9): case-insensitive, `application/` implied when there is no `/`. */
const normalizeType = (value: string): string => {
  const lower = value.toLowerCase()
  return value.includes("/") ? lower : `application/${lower}`
}

const badSignature = Unauthenticated.of("signature", "the token's signature does not verify")
const algorithmRefused = Unauthenticated.of("algorithm", "the token's algorithm is not accepted")
const revokedRefusal = Unauthenticated.of("revoked", "the token has been revoked")
const unavailableRefusal = Unauthenticated.of("unavailable", "the revocation store is unavailable")

/** Builds a verifier over a key store and a revocation store. */
export const make = (
  options: Options
): Effect.Effect<
  Context.Tag.Service<JwtVerifier>,
  InvalidOptions,
  KeyStore.KeyStore | RevocationStore.RevocationStore
> =>
  Effect.gen(function*() {
    const keys = yield* KeyStore.KeyStore
    const revocations = yield* RevocationStore.RevocationStore
    const algorithms = options.algorithms ?? defaultAlgorithms
    if (algorithms.length === 0) return yield* new InvalidOptions({ message: "the algorithm allow-list is empty" })
    const unknown = algorithms.filter((a) => !knownAlgorithms.has(a))
    if (unknown.length > 0) {
      return yield* new InvalidOptions({ message: `unknown algorithms in the allow-list: ${unknown.join(", ")}` })
    }
    const symmetric = algorithms.filter((a) => a.startsWith("HS"))
    let secret: Uint8Array | undefined
    if (symmetric.length > 0) {
      const raw = options.hmacSecret === undefined ? undefined : Redacted.value(options.hmacSecret)
      secret = typeof raw === "string" ? new TextEncoder().encode(raw) : raw
      // RFC 7518 §3.2: a key at least as long as the hash output (32, 48, 64 bytes for HS256, HS384, HS512).
      const minimum = Math.max(...symmetric.map((a) => Number(a.slice(2)) / 8))
      if (secret === undefined || secret.length < minimum) {
        return yield* new InvalidOptions({
          message: `${symmetric.join(", ")} need an explicitly configured hmacSecret of at least ${minimum} bytes`
        })
      }
    }
    const allowed = new Set<string>(algorithms)
    const issuers: ReadonlySet<string> = new Set(options.issuers)
    const skewSeconds = Duration.toSeconds(options.clockSkew ?? Duration.seconds(30))
    const maxLifetimeSeconds = Duration.toSeconds(options.maxLifetime ?? Duration.hours(24))
    const maxTokenBytes = options.maxTokenBytes ?? 8 * 1024
    const type = options.type === undefined ? "at+jwt" : options.type
    const types: ReadonlyArray<string> | null = type === null ? null : typeof type === "string" ? [type] : type
    const expectedTypes = types === null ? null : new Set(types.map(normalizeType))
    const typeRefused = Unauthenticated.of(
      "type",
      `the token's type must be ${types === null ? "anything" : types.map((t) => `'${t}'`).join(" or ")}`
    )
    const audience: ReadonlyArray<string> = typeof options.audience === "string" ? [options.audience] : options.audience
    const cache = (options.cacheSize ?? 10_000) > 0 ? new Lru<string, Cached>(options.cacheSize ?? 10_000) : undefined
    /**
     * The tokens served from the cache lately (at most 1,024), by their exact text, beside the digest-keyed cache:
     * a caller that sends the same token again is answered after one lookup, without a digest. Emptied when full.
     */
    const recentTokens = new Map<string, { readonly token: string; readonly entry: Cached }>()
    // By the token's last 32 characters (its signature's end): a lookup hashes those, and an entry serves only the
    // exact token it was made for.
    const fingerprint = (token: string) => token.slice(-32)
    const remember = (token: string, entry: Cached) => {
      if (recentTokens.size >= 1024) recentTokens.clear()
      recentTokens.set(fingerprint(token), { token, entry })
    }
    // Entries of removed keys could never be served again (`isCurrent`): forgetting them frees their room at once.
    if (cache !== undefined) {
      keys.onRemoved((ids) => {
        cache.deleteWhere((entry) => ids.includes(entry.found.id))
        recentTokens.clear()
      })
    }
    const hmacKey: KeyStore.FoundKey | undefined = secret === undefined ?
      undefined :
      { id: "#hmac", key: secret, keyObject: crypto.createSecretKey(secret) }

    const acceptedUntil = (principal: Principal): number | null =>
      principal.expiresAt === null ? null : principal.expiresAt + skewSeconds

    const revoke = (
      principal: Principal
    ): Effect.Effect<void, NotRevocable | RevocationStore.RevocationUnavailable> => {
      const until = acceptedUntil(principal)
      if (principal.tokenId === null || until === null) {
        return Effect.fail(
          new NotRevocable({
            message: principal.tokenId === null ?
              "the token carries no jti: a token is revoked by its issuer and jti" :
              "the token carries no exp: a revocation needs an end"
          })
        )
      }
      return revocations.revoke({ issuer: principal.issuer, tokenId: principal.tokenId }, until)
    }

    const revokeSubject = (
      subject: RevocationStore.SubjectRef,
      before?: number
    ): Effect.Effect<void, RevocationStore.RevocationUnavailable> =>
      Effect.flatMap(Clock.currentTimeMillis, (now) => {
        const cutoff = before ?? Math.floor(now / 1000)
        return revocations.revokeSubject(
          { issuer: subject.issuer, subject: subject.subject },
          cutoff,
          cutoff + maxLifetimeSeconds + skewSeconds
        )
      })

    /**
     * Headers that passed their checks, by their exact segment: the tokens of one key share a header, so it is
     * decoded and checked once, not once per token.
     */
    const headers = new Map<string, HeaderFacts>()
    const mapping = { ...options, authenticatedBy: "jwt" } as const

    /** The checks of a decoded header: its facts, or the refusal. */
    const checkHeader = (header: Readonly<Record<string, unknown>>): HeaderFacts | Unauthenticated => {
      const problem = Header.check(header)
      if (problem !== undefined) return Unauthenticated.of(problem.reason, problem.description)
      // Each member read below has its type now (`Header.check`).
      const alg = header["alg"] as string | undefined
      if (alg === undefined || !allowed.has(alg)) return algorithmRefused
      const cty = header["cty"] as string | undefined
      if (cty !== undefined && cty.toUpperCase().replace(/^APPLICATION\//, "") === "JWT") {
        return Unauthenticated.of("malformed", "nested JWTs are not accepted")
      }
      const kid = header["kid"] as string | undefined
      if (kid !== undefined && (kid.length === 0 || kid.length > 256)) {
        return Unauthenticated.of("malformed", "the token's 'kid' header must be 1 to 256 characters")
      }
      // RFC 7515 §4.1.11: every extension named critical must be understood and present. Warden understands b64,
      // which `Header.check` allows only as `true`.
      const crit = header["crit"] as ReadonlyArray<string> | undefined
      if (crit !== undefined) {
        if (crit.length === 0) return Unauthenticated.of("malformed", "the token's 'crit' header must not be empty")
        for (const name of crit) {
          if (name !== "b64") {
            return Unauthenticated.of("malformed", `the token's critical header '${name}' is not supported`)
          }
          if (header[name] === undefined) {
            return Unauthenticated.of("malformed", `the token's critical header '${name}' is missing`)
          }
        }
      }
      const typ = header["typ"] as string | undefined
      const typeAccepted = expectedTypes === null || (typ !== undefined && expectedTypes.has(normalizeType(typ)))
      return { header, alg, kid, typeAccepted }
    }

    /** The compact and header checks, before any key is looked up. */
    const parse = (token: string): Parsed | Unauthenticated => {
      const dot = token.indexOf(".")
      const segment = dot > 0 && dot <= 1024 ? token.slice(0, dot) : undefined
      const known = segment === undefined ? undefined : headers.get(segment)
      const parts = Compact.split(token, maxTokenBytes, known?.header)
      if (Either.isLeft(parts)) return Unauthenticated.of(parts.left.reason, parts.left.description)
      if (known !== undefined) return { parts: parts.right, facts: known }
      const facts = checkHeader(parts.right.header)
      if (facts instanceof Unauthenticated) return facts
      if (segment !== undefined) {
        // A few keys, a few headers: a table that fills up is only emptied, never walked.
        if (headers.size >= 256) headers.clear()
        headers.set(segment, facts)
      }
      return { parts: parts.right, facts }
    }

    /** The signature, then the claims, then the principal: everything after the key, synchronously. */
    const conclude = (
      { facts, parts }: Parsed,
      found: KeyStore.FoundKey,
      nowMs: number
    ): Principal | Unauthenticated => {
      if (!Native.verify(facts.alg, found.keyObject, parts.signingInput, parts.signatureBytes)) return badSignature
      const { claims } = parts
      const problem = registeredProblem(claims)
      if (problem !== undefined) return problem
      if (!facts.typeAccepted) return typeRefused
      // `registeredProblem` has checked the type of each claim read below.
      if (!issuers.has(claims["iss"] as string)) {
        return Unauthenticated.of("issuer", "the token's issuer is not accepted")
      }
      const aud = claims["aud"] as string | ReadonlyArray<string>
      if (typeof aud === "string" ? !audience.includes(aud) : !audience.some((a) => aud.includes(a))) {
        return Unauthenticated.of("audience", "the token is not meant for this audience")
      }
      const now = nowMs / 1000
      const exp = claims["exp"] as number
      const nbf = claims["nbf"] as number | undefined
      const iat = claims["iat"] as number | undefined
      // Whole seconds for nbf, as jose and most verifiers count; the window ends exactly at exp + skew, as the cache
      // and revocations see it.
      if (nbf !== undefined && nbf > Math.floor(now) + skewSeconds) {
        return Unauthenticated.of("not_yet_valid", "the token is not valid yet")
      }
      if (nowMs >= (exp + skewSeconds) * 1000) return Unauthenticated.of("expired", "the token has expired")
      if (iat !== undefined && iat > now + skewSeconds) {
        return Unauthenticated.of("not_yet_valid", "the token was issued in the future")
      }
      if (exp - (iat ?? nbf ?? now) > maxLifetimeSeconds) {
        return Unauthenticated.of("lifetime", "the token's lifetime is longer than accepted")
      }
      return Claims.principalOf(claims, mapping)
    }

    /** Whether the principal's token is revoked, from the store's memory: `undefined` when it must be asked. */
    // The principal is the store's view of the token: issuer, jti, subject and iat, with no copy per request.
    const revokedNow = (principal: Principal, nowMs: number): Principal | Unauthenticated | undefined => {
      const revoked = revocations.isRevokedNow?.(principal, nowMs)
      return revoked === undefined ? undefined : revoked ? revokedRefusal : principal
    }

    const revokedLater = (principal: Principal): Effect.Effect<Principal | Unauthenticated> =>
      Effect.match(revocations.isRevoked(principal), {
        // Fail closed: a token whose revocation cannot be checked is refused, never accepted.
        onFailure: () => unavailableRefusal,
        onSuccess: (revoked) => revoked ? revokedRefusal : principal
      })

    const entryOf = (principal: Principal, found: KeyStore.FoundKey): Cached => ({
      principal,
      found,
      // A verified JWT always has an exp; were it missing, the entry would never serve.
      acceptedUntilMs: (acceptedUntil(principal) ?? 0) * 1000
    })

    /** Counts the answer of a fresh verification, and caches its principal. */
    const finish = (
      answer: Principal | Unauthenticated,
      digest: string | undefined,
      entry: Cached | undefined
    ): Principal | Unauthenticated => {
      if (cache !== undefined) cacheMisses.unsafeUpdate(1, [])
      if (answer instanceof Unauthenticated) {
        verificationsBy(answer.reason).unsafeUpdate(1, [])
        return answer
      }
      if (digest !== undefined && entry !== undefined) cache!.set(digest, entry)
      verifiedOk.unsafeUpdate(1, [])
      return answer
    }

    /** Whether a cached entry still serves at `nowMs`: inside its acceptance window, its key still current. */
    const serves = (entry: Cached, nowMs: number): boolean =>
      nowMs < entry.acceptedUntilMs && (entry.found === hmacKey || keys.isCurrent(entry.found))

    /** The answer of a cache hit: the entry's principal once the revocation store says it is not revoked. */
    const serve = (entry: Cached, nowMs: number, digest: string | undefined): Principal | Unauthenticated | Pending => {
      const answer = revokedNow(entry.principal, nowMs)
      return answer === undefined ? new WaitingForRevocation(entry.principal, undefined, digest) : finishHit(answer)
    }

    /** The owner of the entries this verifier remembers on credentials (`Credential.remember`). */
    const memoOwner = {}

    /**
     * As far as a verification goes without I/O: the answer, or where it waits. `credential`, when given, is the
     * credential the token came in: a cache hit is remembered on it.
     */
    const attempt = (
      token: string,
      nowMs: number,
      credential?: Credential.Bearer
    ): Principal | Unauthenticated | Pending => {
      let digest: string | undefined
      if (cache !== undefined) {
        // The tokens seen lately, by their exact text: a hit costs one lookup, no digest.
        const seen = recentTokens.get(fingerprint(token))
        if (seen !== undefined && seen.token === token) {
          const recent = seen.entry
          if (serves(recent, nowMs)) {
            if (credential !== undefined) Credential.remember(credential, memoOwner, recent)
            return serve(recent, nowMs, undefined)
          }
          recentTokens.delete(fingerprint(token))
        }
        // Keyed by digest: an entry holds 44 characters of key instead of the whole token.
        digest = crypto.hash("sha256", token, "base64")
        const hit = cache.get(digest)
        if (hit !== undefined) {
          if (serves(hit, nowMs)) {
            remember(token, hit)
            if (credential !== undefined) Credential.remember(credential, memoOwner, hit)
            return serve(hit, nowMs, digest)
          }
          cache.delete(digest)
        }
      }
      const parsed = parse(token)
      if (parsed instanceof Unauthenticated) return finish(parsed, digest, undefined)
      const { alg, kid } = parsed.facts
      const found = alg.startsWith("HS") && hmacKey !== undefined ? hmacKey : keys.findKnown({ kid, alg })
      if (found === undefined) return new WaitingForKey(parsed, digest)
      return afterKey(parsed, found, digest, nowMs)
    }

    const finishHit = (answer: Principal | Unauthenticated): Principal | Unauthenticated => {
      if (cache !== undefined) cacheHits.unsafeUpdate(1, [])
      ;(answer instanceof Unauthenticated ? verificationsBy(answer.reason) : verifiedOk).unsafeUpdate(1, [])
      return answer
    }

    const afterKey = (
      parsed: Parsed,
      found: KeyStore.FoundKey | Unauthenticated,
      digest: string | undefined,
      nowMs: number
    ): Principal | Unauthenticated | Pending => {
      if (found instanceof Unauthenticated) return finish(found, digest, undefined)
      const principal = conclude(parsed, found, nowMs)
      if (principal instanceof Unauthenticated) return finish(principal, digest, undefined)
      const entry = entryOf(principal, found)
      const answer = revokedNow(principal, nowMs)
      return answer === undefined ? new WaitingForRevocation(principal, entry, digest) : finish(answer, digest, entry)
    }

    /** The rest of a verification that waits for I/O. */
    const resume = (pending: Pending, nowMs: number): Effect.Effect<Principal | Unauthenticated> => {
      if (pending instanceof WaitingForRevocation) {
        return Effect.map(
          revokedLater(pending.principal),
          (answer) => pending.entry === undefined ? finishHit(answer) : finish(answer, pending.digest, pending.entry)
        )
      }
      const { digest, parsed } = pending
      return keys.find({ kid: parsed.facts.kid, alg: parsed.facts.alg }).pipe(
        Effect.match({ onFailure: (refusal) => refusal, onSuccess: (found) => found }),
        Effect.flatMap((found) => {
          const next = afterKey(parsed, found, digest, nowMs)
          return isPending(next) ? resume(next, nowMs) : Effect.succeed(next)
        })
      )
    }

    const verifyNow = (token: string, nowMs: number): Principal | Unauthenticated | undefined => {
      const step = attempt(token, nowMs)
      return isPending(step) ? undefined : step
    }

    const verify = (token: string): Effect.Effect<Principal, Unauthenticated> =>
      Effect.flatMap(Clock.currentTimeMillis, (nowMs) => {
        const step = attempt(token, nowMs)
        const answer = isPending(step) ?
          resume(step, nowMs).pipe(Effect.withSpan("warden.jwt.verify", { captureStackTrace: false })) :
          Effect.succeed(step)
        return Effect.flatMap(answer, (a) => a instanceof Unauthenticated ? Effect.fail(a) : Effect.succeed(a))
      })

    const verifyBearerNow = (credential: Credential.Bearer, nowMs: number): Principal | Unauthenticated | undefined => {
      let step: Principal | Unauthenticated | Pending | undefined
      if (cache !== undefined) {
        const memo = Credential.recall(credential, memoOwner) as Cached | undefined
        if (memo !== undefined) {
          if (serves(memo, nowMs)) step = serve(memo, nowMs, undefined)
          else Credential.remember(credential, memoOwner, undefined)
        }
      }
      step ??= attempt(Credential.secretOf(credential), nowMs, credential)
      return isPending(step) ? undefined : step
    }

    return {
      verify,
      verifyNow,
      verifyBearerNow,
      cached: Effect.sync(() => cache?.size ?? 0),
      acceptedUntil,
      revoke,
      revokeSubject
    }
  })

/** The verifier as a layer. */
export const layer = (
  options: Options
): Layer.Layer<JwtVerifier, InvalidOptions, KeyStore.KeyStore | RevocationStore.RevocationStore> =>
  Layer.effect(JwtVerifier, make(options))

/**
 * The verifier's options from Warden's default names: `WARDEN_ISSUER`
 * (comma-separated for several) and `WARDEN_AUDIENCE` (likewise), and, each
 * optional, `WARDEN_JWT_ALGORITHMS`, `WARDEN_JWT_TYPE` (`none` to accept any),
 * `WARDEN_JWT_CLOCK_SKEW`, `WARDEN_JWT_MAX_LIFETIME` (durations such as `30s`
 * or `24h`), `WARDEN_JWT_MAX_BYTES`, `WARDEN_JWT_CACHE_SIZE`,
 * `WARDEN_TENANT_CLAIM`, `WARDEN_TENANTS_CLAIM`, `WARDEN_PERMISSIONS_CLAIM`,
 * `WARDEN_DENY_CLAIM`, `WARDEN_SCOPE_ARRAY_CLAIM` and `WARDEN_JWT_HMAC_SECRET`
 * (redacted). What is unset keeps the default of `Options`.
 *
 * @since 0.2.0
 * @category configuration
 */
export const config: Config.Config<Options> = Config.zipWith(
  Config.all({
    issuers: Settings.nonEmptyArray(Config.nonEmptyString(), "WARDEN_ISSUER"),
    audience: Settings.nonEmptyArray(Config.nonEmptyString(), "WARDEN_AUDIENCE")
  }),
  Settings.optional({
    algorithms: Config.array(Config.literal(...algorithms)(), "WARDEN_JWT_ALGORITHMS"),
    type: Config.map(Config.string("WARDEN_JWT_TYPE"), (type): string | readonly [string, ...Array<string>] | null => {
      if (type === "none") return null
      const listed = type.split(",").map((t) => t.trim()).filter((t) => t.length > 0)
      return listed.length > 1 ? [listed[0]!, ...listed.slice(1)] : type
    }),
    clockSkew: Settings.duration("WARDEN_JWT_CLOCK_SKEW"),
    maxLifetime: Settings.duration("WARDEN_JWT_MAX_LIFETIME"),
    maxTokenBytes: Config.integer("WARDEN_JWT_MAX_BYTES"),
    cacheSize: Config.integer("WARDEN_JWT_CACHE_SIZE"),
    tenantClaim: Config.string("WARDEN_TENANT_CLAIM"),
    tenantsClaim: Config.string("WARDEN_TENANTS_CLAIM"),
    permissionsClaim: Config.string("WARDEN_PERMISSIONS_CLAIM"),
    denyClaim: Config.string("WARDEN_DENY_CLAIM"),
    scopeArrayClaim: Config.string("WARDEN_SCOPE_ARRAY_CLAIM"),
    hmacSecret: Config.redacted("WARDEN_JWT_HMAC_SECRET")
  }),
  (required, optional): Options => ({ ...optional, ...required })
)

/**
 * The verifier from configuration: `config` (Warden's default names) unless
 * told otherwise. Each option may be a `Config` of its own, so one process can
 * configure two issuers under names of its choosing, or nest the defaults
 * under a prefix.
 *
 * @since 0.1.0
 * @category layers
 * @example
 * ```ts
 * import { JwtVerifier } from "@warden/jwt"
 * import * as Config from "effect/Config"
 *
 * // ORDERS_WARDEN_ISSUER, ORDERS_WARDEN_AUDIENCE, ...
 * const orders = JwtVerifier.layerConfig(Config.nested(JwtVerifier.config, "ORDERS"))
 * ```
 */
export const layerConfig = (
  options: Config.Config.Wrap<Options> = config
): Layer.Layer<
  JwtVerifier,
  InvalidOptions | ConfigError.ConfigError,
  KeyStore.KeyStore | RevocationStore.RevocationStore
> => Layer.unwrapEffect(Effect.map(Config.unwrap(options), layer))

/** `Authenticator` backed by the verifier: plug it under Warden's RPC middlewares. */
export const layerAuthenticator: Layer.Layer<Authenticator.Authenticator, never, JwtVerifier> = Layer.effect(
  Authenticator.Authenticator,
  Effect.map(JwtVerifier, (verifier) => ({
    authenticate: (credential) =>
      credential._tag === "Bearer" ?
        verifier.verify(Credential.secretOf(credential)) :
        Effect.fail(Credential.unsupported(credential)),
    authenticateNow: (credential, nowMillis) =>
      credential._tag === "Bearer" ?
        verifier.verifyBearerNow(credential, nowMillis) :
        Credential.unsupported(credential)
  }))
)

/**
 * The common case in one layer: JWT access tokens from one issuer, for one
 * audience, verified against the issuer's JWKS. It holds the verifier, its
 * `KeyStore` (fetching `jwksUrl` with the fetch-based HttpClient), an
 * in-memory `RevocationStore` unless `revocations` gives another, and the
 * `Authenticator` Warden's middlewares use. Every other option keeps its safe
 * default unless `verifier` or `keyStore` says otherwise.
 *
 * @since 0.2.0
 * @category layers
 * @example
 * ```ts
 * const Verification = JwtVerifier.layerIssuer({
 *   issuer: "https://id.example.com",
 *   audience: "https://inventory.example.com",
 *   jwksUrl: "https://id.example.com/.well-known/jwks.json"
 * })
 * ```
 */
export const layerIssuer = (options: {
  readonly issuer: string
  readonly audience: string | readonly [string, ...Array<string>]
  readonly jwksUrl: string
  readonly verifier?: Partial<Omit<Options, "issuers" | "audience">>
  readonly keyStore?: Partial<Omit<KeyStore.Options, "jwksUrl">>
  readonly revocations?: Layer.Layer<RevocationStore.RevocationStore>
}): Layer.Layer<
  Authenticator.Authenticator | JwtVerifier | KeyStore.KeyStore | RevocationStore.RevocationStore,
  InvalidOptions | JwksFetchError
> =>
  layerAuthenticator.pipe(
    Layer.provideMerge(layer({ ...options.verifier, issuers: [options.issuer], audience: options.audience })),
    Layer.provideMerge(
      KeyStore.layer({ ...options.keyStore, jwksUrl: options.jwksUrl }).pipe(Layer.provide(FetchHttpClient.layer))
    ),
    Layer.provideMerge(options.revocations ?? RevocationStore.layerMemory)
  )

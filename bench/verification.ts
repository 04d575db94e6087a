/**
 * 1. First-sight verification (RS256-2048, ES256, EdDSA): Warden's JwtVerifier
 *    (`verifyNow`, the request path's synchronous call, and `verify` in an
 *    Effect) against fast-jwt, bare `jose.jwtVerify` and one bare node:crypto
 *    verify.
 * 2. Repeated tokens: Warden's verified-token cache against fast-jwt's cache.
 */
import { Unauthenticated } from "@warden/core"
import * as Effect from "effect/Effect"
import { createVerifier } from "fast-jwt"
import * as jose from "jose"
import { createPublicKey, verify as cryptoVerify } from "node:crypto"
import type { KeyObject } from "node:crypto"
import { alternating, byName, check, timeCases } from "./lib/harness.js"
import type { Paired, Timing } from "./lib/harness.js"
import { audience, generateKey, issuer, makeVerifier, signWithIssuer, startJwks } from "./lib/identity.js"
import type { Alg, WardenVerifier } from "./lib/identity.js"

export const algorithms: ReadonlyArray<{ readonly alg: Alg; readonly label: string }> = [
  { alg: "RS256", label: "RS256 (RSA 2048)" },
  { alg: "ES256", label: "ES256 (P-256)" },
  { alg: "EdDSA", label: "EdDSA (Ed25519)" }
]

/** How many distinct tokens each case cycles through (more than the small cache below holds). */
const poolSize = 128

export const names = {
  warden: "Warden verifyNow (cache off)",
  wardenMiss: "Warden verifyNow (cache on, every token new)",
  wardenEffect: "Warden verify, Effect.runSync per call (cache off)",
  jose: "jose.jwtVerify + createLocalJWKSet",
  fastJwt: "fast-jwt createVerifier (sync, PEM key)",
  floor: "node:crypto verify (floor)",
  hitNow: "Warden cache hit, verifyNow",
  hitFiber: "Warden cache hit, verify inside a running fiber",
  hitRunSync: "Warden cache hit, verify with Effect.runSync per call",
  fastJwtHit: "fast-jwt cache hit (default: SHA-256 key)",
  fastJwtHitRaw: "fast-jwt cache hit (token as key, unsafe)"
} as const

export interface VerificationResults {
  readonly firstSight: ReadonlyArray<{
    readonly alg: Alg
    readonly label: string
    readonly timings: Array<Timing>
    /** Warden's verifyNow (cache off) against fast-jwt in alternating blocks: the ratio of their block times. */
    readonly blocks: PairedRatio
  }>
  readonly repeated: Array<Timing>
  /** Workloads for profiling, by name. */
  readonly workloads: {
    readonly firstSight: (alg: Alg) => () => unknown
    readonly cacheHit: () => unknown
  }
  readonly close: () => Promise<void>
}

/** The time of `a` over the time of `b` in alternating blocks of `calls` calls each, `pairs` times. */
export interface PairedRatio extends Paired {
  readonly calls: number
}

/**
 * Alternating blocks of two synchronous workloads, each block next to one of the other (which goes first
 * alternates), so the machine's drift cancels out of each pair's ratio.
 */
const pairedRatio = async (
  a: () => unknown,
  b: () => unknown,
  pairs: number,
  calls: number
): Promise<PairedRatio> => {
  const block = (fn: () => unknown) => {
    const start = performance.now()
    for (let i = 0; i < calls; i++) fn()
    return performance.now() - start
  }
  return { ...(await alternating(pairs, () => block(a), () => block(b), (x, y) => x / y)), calls }
}

const verifyOptions = (alg: string): jose.JWTVerifyOptions => ({
  algorithms: [alg],
  issuer,
  audience,
  typ: "at+jwt",
  requiredClaims: ["exp", "iss", "aud"],
  clockTolerance: 30
})

export const run = async (rounds: number, log: (line: string) => void): Promise<VerificationResults> => {
  const keys = await Promise.all(algorithms.map(({ alg }) => generateKey(alg, `bench-${alg}`)))
  const jwks = await startJwks(keys)
  const uncached = await makeVerifier(jwks.url, { cacheSize: 0 })
  const smallCache = await makeVerifier(jwks.url, { cacheSize: poolSize / 2 })
  const cached = await makeVerifier(jwks.url)
  const verifiers: Array<WardenVerifier> = [uncached, smallCache, cached]
  const localSet = jose.createLocalJWKSet({ keys: keys.map((k) => k.publicJwk) })

  const firstSight: VerificationResults["firstSight"][number][] = []
  const workloads = new Map<Alg, () => unknown>()
  for (const [index, { alg, label }] of algorithms.entries()) {
    const key = keys[index]!
    const pool: Array<string> = []
    for (let i = 0; i < poolSize; i++) pool.push(await signWithIssuer(key))
    const publicKey: KeyObject = createPublicKey({
      key: key.publicJwk as import("node:crypto").JsonWebKey,
      format: "jwk"
    })
    const pem = publicKey.export({ type: "spki", format: "pem" }).toString()
    const fastJwt = createVerifier({
      key: pem,
      algorithms: [alg],
      allowedIss: issuer,
      allowedAud: audience,
      requiredClaims: ["exp", "iss", "aud"],
      clockTolerance: 30_000,
      checkTyp: "at+jwt"
    })
    const hash = alg === "EdDSA" ? null : "sha256"
    const floorKey = alg === "ES256" ? { key: publicKey, dsaEncoding: "ieee-p1363" as const } : publicKey
    const split = pool.map((token) => {
      const dot = token.lastIndexOf(".")
      return { input: Buffer.from(token.slice(0, dot)), signature: Buffer.from(token.slice(dot + 1), "base64url") }
    })
    // Every competitor must accept every token before anything is timed.
    for (const [i, token] of pool.entries()) {
      const principal = await Effect.runPromise(uncached.verifier.verify(token))
      // The small cache's own key store imports the key here, as the first request would.
      check((await Effect.runPromise(smallCache.verifier.verify(token))).subject === "user-0042", "Warden failed")
      check(principal.subject === "user-0042" && principal.tenant === "tenant-3", `Warden misread a ${alg} token`)
      check((await jose.jwtVerify(token, localSet, verifyOptions(alg))).payload.sub === "user-0042", "jose failed")
      check((fastJwt(token) as { sub?: string }).sub === "user-0042", "fast-jwt failed")
      check(cryptoVerify(hash, split[i]!.input, floorKey, split[i]!.signature), "node:crypto failed")
    }
    let a = 0, b = 0, c = 0, d = 0, e = 0, f = 0
    const mask = poolSize - 1
    const now = uncached.verifier.verifyNow
    const nowMiss = smallCache.verifier.verifyNow
    const clock = Date.now
    // Every answer is checked: a refusal (or a wait for I/O) would be timed as a fast success otherwise.
    const accepted = (answer: unknown) => {
      if (answer === undefined || answer instanceof Unauthenticated) throw new Error(`Warden refused a ${alg} token`)
      return answer
    }
    const warden = () => accepted(now(pool[a++ & mask]!, clock()))
    workloads.set(alg, warden)
    const timings = await timeCases([
      { name: names.warden, fn: warden },
      { name: names.wardenMiss, fn: () => accepted(nowMiss(pool[b++ & mask]!, clock())) },
      { name: names.wardenEffect, fn: () => Effect.runSync(uncached.verifier.verify(pool[f++ & mask]!)) },
      { name: names.jose, fn: () => jose.jwtVerify(pool[c++ & mask]!, localSet, verifyOptions(alg)) },
      { name: names.fastJwt, fn: () => fastJwt(pool[d++ & mask]!) },
      {
        name: names.floor,
        fn: () => {
          const s = split[e++ & mask]!
          return cryptoVerify(hash, s.input, floorKey, s.signature)
        }
      }
    ], rounds)
    log(`  ${label}: ${timings.map((t) => `${t.name} ${(t.median / 1000).toFixed(1)} µs`).join("; ")}`)
    const fast = () => fastJwt(pool[d++ & mask]!)
    const blocks = await pairedRatio(warden, fast, rounds * 40, 16)
    log(`  ${label}: Warden / fast-jwt in alternating blocks ${blocks.median.toFixed(2)}×`)
    firstSight.push({ alg, label, timings, blocks })
  }

  // 2. The same token again and again.
  const key = keys[1]!
  const token = await signWithIssuer(key)
  await Effect.runPromise(cached.verifier.verify(token))
  check(await Effect.runPromise(cached.verifier.cached) === 1, "the token was not cached")
  const publicKey = createPublicKey({ key: key.publicJwk as import("node:crypto").JsonWebKey, format: "jwk" })
  const pem = publicKey.export({ type: "spki", format: "pem" }).toString()
  const fastJwtOptions = {
    key: pem,
    algorithms: ["ES256" as const],
    allowedIss: issuer,
    allowedAud: audience,
    requiredClaims: ["exp", "iss", "aud"],
    clockTolerance: 30_000,
    checkTyp: "at+jwt",
    cache: true
  }
  const fastJwtCached = createVerifier(fastJwtOptions)
  const fastJwtRaw = createVerifier({ ...fastJwtOptions, cacheKeyBuilder: (t: string) => t })
  fastJwtCached(token)
  fastJwtRaw(token)
  const batch = 256
  const verify = cached.verifier.verify
  const hitLoop = Effect.gen(function*() {
    let last: unknown
    for (let i = 0; i < batch; i++) last = yield* verify(token)
    return last
  })
  const cacheHit = () => Effect.runSync(hitLoop)
  const verifyNow = cached.verifier.verifyNow
  check(!(verifyNow(token, Date.now()) instanceof Unauthenticated), "verifyNow refused the cached token")
  const hitNow = () => {
    const answer = verifyNow(token, Date.now())
    if (answer === undefined || answer instanceof Unauthenticated) throw new Error("the cached token was refused")
    return answer
  }
  const repeated = await timeCases([
    { name: names.hitNow, fn: hitNow },
    { name: names.hitFiber, ops: batch, fn: cacheHit },
    { name: names.hitRunSync, fn: () => Effect.runSync(verify(token)) },
    { name: names.fastJwtHit, fn: () => fastJwtCached(token) },
    { name: names.fastJwtHitRaw, fn: () => fastJwtRaw(token) }
  ], rounds)
  log(`  repeated: ${repeated.map((t) => `${t.name} ${t.median.toFixed(0)} ns`).join("; ")}`)
  byName(repeated, names.hitNow)

  return {
    firstSight,
    repeated,
    workloads: {
      firstSight: (alg) => workloads.get(alg)!,
      cacheHit: () => {
        for (let i = 0; i < batch; i++) hitNow()
      }
    },
    close: async () => {
      for (const v of verifiers) await v.close()
      await jwks.close()
    }
  }
}

/**
 * 1. First-sight verification (RS256-2048, ES256, EdDSA): Warden's JwtVerifier
 *    against bare `jose.jwtVerify`, fast-jwt and one bare node:crypto verify.
 * 2. Repeated tokens: Warden's verified-token cache against fast-jwt's cache.
 */
import * as Effect from "effect/Effect"
import { createVerifier } from "fast-jwt"
import * as jose from "jose"
import { createPublicKey, verify as cryptoVerify } from "node:crypto"
import type { KeyObject } from "node:crypto"
import { byName, check, timeCases } from "./lib/harness.js"
import type { Timing } from "./lib/harness.js"
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
  warden: "Warden JwtVerifier (cache off)",
  wardenMiss: "Warden JwtVerifier (cache on, every token new)",
  jose: "jose.jwtVerify + createLocalJWKSet",
  fastJwt: "fast-jwt createVerifier (sync, PEM key)",
  floor: "node:crypto verify (floor)",
  hitFiber: "Warden cache hit, inside a running fiber",
  hitRunSync: "Warden cache hit, Effect.runSync per call",
  fastJwtHit: "fast-jwt cache hit (default: SHA-256 key)",
  fastJwtHitRaw: "fast-jwt cache hit (token as key, unsafe)"
} as const

export interface VerificationResults {
  readonly firstSight: ReadonlyArray<{
    readonly alg: Alg
    readonly label: string
    readonly timings: Array<Timing>
    /** Main-thread busy time per call (event-loop utilisation × wall time), µs: Warden and bare jose. */
    readonly busy: {
      readonly warden: number
      readonly jose: number
      readonly wardenWall: number
      readonly joseWall: number
    }
  }>
  readonly repeated: Array<Timing>
  /** Workloads for profiling, by name. */
  readonly workloads: {
    readonly firstSight: (alg: Alg) => () => Promise<unknown>
    readonly joseFirstSight: () => Promise<unknown>
    readonly cacheHit: () => unknown
  }
  readonly close: () => Promise<void>
}

/** Wall time and main-thread busy time per call over `calls` sequential calls, µs. */
const eventLoopShare = async (fn: () => Promise<unknown>, calls: number) => {
  const before = performance.eventLoopUtilization()
  const start = performance.now()
  for (let i = 0; i < calls; i++) await fn()
  const wall = ((performance.now() - start) * 1000) / calls
  return { wall, busy: wall * performance.eventLoopUtilization(before).utilization }
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
  const workloads = new Map<Alg, () => Promise<unknown>>()
  let joseFirstSight: () => Promise<unknown> = () => Promise.resolve()
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
      check(principal.subject === "user-0042" && principal.tenant === "tenant-3", `Warden misread a ${alg} token`)
      check((await jose.jwtVerify(token, localSet, verifyOptions(alg))).payload.sub === "user-0042", "jose failed")
      check((fastJwt(token) as { sub?: string }).sub === "user-0042", "fast-jwt failed")
      check(cryptoVerify(hash, split[i]!.input, floorKey, split[i]!.signature), "node:crypto failed")
    }
    let a = 0, b = 0, c = 0, d = 0, e = 0
    const mask = poolSize - 1
    const warden = () => Effect.runPromise(uncached.verifier.verify(pool[a++ & mask]!))
    workloads.set(alg, warden)
    if (alg === "ES256") {
      let j = 0
      joseFirstSight = () => jose.jwtVerify(pool[j++ & mask]!, localSet, verifyOptions(alg))
    }
    const timings = await timeCases([
      { name: names.warden, fn: warden },
      { name: names.wardenMiss, fn: () => Effect.runPromise(smallCache.verifier.verify(pool[b++ & mask]!)) },
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
    const joseCall = () => jose.jwtVerify(pool[c++ & mask]!, localSet, verifyOptions(alg))
    const wardenShare = await eventLoopShare(warden, 400)
    const joseShare = await eventLoopShare(joseCall, 400)
    firstSight.push({
      alg,
      label,
      timings,
      busy: { warden: wardenShare.busy, jose: joseShare.busy, wardenWall: wardenShare.wall, joseWall: joseShare.wall }
    })
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
  const repeated = await timeCases([
    { name: names.hitFiber, ops: batch, fn: cacheHit },
    { name: names.hitRunSync, fn: () => Effect.runSync(verify(token)) },
    { name: names.fastJwtHit, fn: () => fastJwtCached(token) },
    { name: names.fastJwtHitRaw, fn: () => fastJwtRaw(token) }
  ], rounds)
  log(`  repeated: ${repeated.map((t) => `${t.name} ${t.median.toFixed(0)} ns`).join("; ")}`)
  byName(repeated, names.hitFiber)

  return {
    firstSight,
    repeated,
    workloads: {
      firstSight: (alg) => workloads.get(alg)!,
      joseFirstSight,
      cacheHit
    },
    close: async () => {
      for (const v of verifiers) await v.close()
      await jwks.close()
    }
  }
}

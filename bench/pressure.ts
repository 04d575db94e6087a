/**
 * 5. The JWKS under pressure, against a real loopback endpoint that counts
 *    its requests:
 *    a. 10,000 concurrent verifications of tokens signed by a key published
 *       a moment ago (a rotation): one fetch, every token verifies.
 *    b. A flood of tokens naming random kids for a bounded time, with valid
 *       tokens verified alongside: fetches stay within one per cooldown, and
 *       every valid token still verifies.
 */
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import { randomBytes } from "node:crypto"
import { check, median, percentile } from "./lib/harness.js"
import { baseClaims, fastSigner, generateKey, makeVerifier, startJwks } from "./lib/identity.js"

export interface PressureResults {
  readonly rotation: {
    readonly tokens: number
    readonly fetches: number
    readonly verified: number
    readonly wallMs: number
  }
  readonly flood: {
    readonly durationMs: number
    readonly cooldownMs: number
    readonly randomKidTokens: number
    readonly refusedUnknownKey: number
    readonly fetches: number
    readonly fetchBound: number
    readonly validTokens: number
    readonly validVerified: number
    readonly validP50BeforeUs: number
    readonly validP50DuringUs: number
    readonly validP99DuringUs: number
  }
}

const cooldownMs = 250
const floodMs = 2_000

const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url")

/** A well-formed token whose kid no key set has (its signature is random: it never gets that far). */
const randomKidToken = (): string => {
  const iat = Math.floor(Date.now() / 1000)
  const header = b64({ typ: "at+jwt", alg: "ES256", kid: randomBytes(12).toString("base64url") })
  const claims = b64({ ...baseClaims, iat, exp: iat + 3600, jti: randomBytes(8).toString("hex") })
  return `${header}.${claims}.${randomBytes(64).toString("base64url")}`
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

export const run = async (log: (line: string) => void): Promise<PressureResults> => {
  const old = await generateKey("ES256", "bench-old")
  const next = await generateKey("ES256", "bench-next")
  const jwks = await startJwks([old])
  const { close, verifier } = await makeVerifier(jwks.url, {}, {
    cooldown: `${cooldownMs} millis`,
    refreshInterval: "1 day"
  })
  try {
    // a. The identity service rotates: the new key is published, tokens signed by it arrive all at once. The key
    //    store's last fetch is older than its cooldown (as it would be minutes after start).
    await sleep(cooldownMs + 50)
    jwks.serve([old, next])
    const signNext = fastSigner(next)
    const tokens = Array.from({ length: 10_000 }, () => signNext())
    const before = jwks.requests()
    const start = performance.now()
    const results = await Effect.runPromise(
      Effect.forEach(tokens, (token) => Effect.either(verifier.verify(token)), { concurrency: "unbounded" })
    )
    const wallMs = performance.now() - start
    const rotationFetches = jwks.requests() - before
    const verified = results.filter(Either.isRight).length
    check(rotationFetches === 1, `10,000 verifications after a rotation made ${rotationFetches} JWKS fetches, not 1`)
    check(verified === tokens.length, `only ${verified} of ${tokens.length} tokens verified after the rotation`)
    log(`  rotation: ${tokens.length} concurrent, ${rotationFetches} fetch, all verified in ${wallMs.toFixed(0)} ms`)

    // b. Valid tokens alone, then the same alongside a flood of random kids.
    const verifyValid = async (count: number): Promise<Array<number>> => {
      const latencies: Array<number> = []
      for (let i = 0; i < count; i++) {
        const token = signNext()
        const t0 = performance.now()
        const result = await Effect.runPromise(Effect.either(verifier.verify(token)))
        latencies.push((performance.now() - t0) * 1000)
        check(Either.isRight(result), "a valid token failed to verify")
      }
      return latencies
    }
    const baseline = await verifyValid(500)
    await sleep(cooldownMs + 50)
    const floodBefore = jwks.requests()
    const floodStart = performance.now()
    let randomKids = 0
    let refused = 0
    let otherFailures = 0
    const during: Array<number> = []
    for (let wave = 0; wave < 10_000 && performance.now() - floodStart < floodMs; wave++) {
      const flood = Effect.runPromise(
        Effect.forEach(
          Array.from({ length: 200 }, randomKidToken),
          (token) => Effect.either(verifier.verify(token)),
          { concurrency: "unbounded" }
        )
      )
      const valid = verifyValid(5)
      const [floodResults, latencies] = await Promise.all([flood, valid])
      randomKids += floodResults.length
      for (const r of floodResults) {
        if (Either.isLeft(r) && r.left.reason === "unknown_key") refused++
        else otherFailures++
      }
      during.push(...latencies)
    }
    const durationMs = performance.now() - floodStart
    const floodFetches = jwks.requests() - floodBefore
    const fetchBound = Math.ceil(durationMs / cooldownMs) + 1
    check(otherFailures === 0, `${otherFailures} random-kid tokens were not refused with unknown_key`)
    check(floodFetches <= fetchBound, `the flood caused ${floodFetches} fetches, more than ${fetchBound}`)
    log(
      `  flood: ${randomKids} random kids in ${durationMs.toFixed(0)} ms, ${floodFetches} fetches (bound ` +
        `${fetchBound}), ${during.length} valid tokens all verified`
    )
    return {
      rotation: { tokens: tokens.length, fetches: rotationFetches, verified, wallMs },
      flood: {
        durationMs,
        cooldownMs,
        randomKidTokens: randomKids,
        refusedUnknownKey: refused,
        fetches: floodFetches,
        fetchBound,
        validTokens: during.length,
        validVerified: during.length,
        validP50BeforeUs: median(baseline),
        validP50DuringUs: median(during),
        validP99DuringUs: percentile(during, 0.99)
      }
    }
  } finally {
    await close()
    await jwks.close()
  }
}

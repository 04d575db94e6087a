/**
 * 6. Memory: the heap a verified-token cache entry retains (100,000 distinct
 *    ES256 tokens verified and cached), and what one cache-hit verification
 *    allocates. fast-jwt's cache, filled the same way with 20,000 tokens, for
 *    context. Needs --expose-gc.
 */
import * as Effect from "effect/Effect"
import { createVerifier } from "fast-jwt"
import { createPublicKey } from "node:crypto"
import type { JsonWebKey } from "node:crypto"
import { check, gc, median } from "./lib/harness.js"
import { audience, fastSigner, generateKey, issuer, makeVerifier, startJwks } from "./lib/identity.js"

export interface MemoryResults {
  readonly tokens: number
  readonly tokenLength: number
  readonly retainedBytes: number
  readonly perEntryBytes: number
  readonly fillMs: number
  readonly allocatedPerHitBytes: number
  readonly fastJwt: { readonly tokens: number; readonly perEntryBytes: number }
}

const heap = () => process.memoryUsage().heapUsed

export const run = async (log: (line: string) => void, count = 100_000): Promise<MemoryResults> => {
  const key = await generateKey("ES256", "bench-memory")
  const jwks = await startJwks([key])
  const { close, verifier } = await makeVerifier(jwks.url, { cacheSize: count })
  try {
    const sign = fastSigner(key)
    const tokenLength = sign().length
    const verify = verifier.verify
    // Warm the code paths (and the key import) before the baseline.
    await Effect.runPromise(Effect.forEach(Array.from({ length: 200 }, () => sign()), verify, { concurrency: 4 }))
    const warm = await Effect.runPromise(verifier.cached)
    gc()
    const before = heap()
    const start = performance.now()
    for (let chunk = 0; chunk < count / 1000; chunk++) {
      const tokens = Array.from({ length: 1000 }, () => sign())
      await Effect.runPromise(Effect.forEach(tokens, verify, { concurrency: 4, discard: true }))
    }
    const fillMs = performance.now() - start
    gc()
    const after = heap()
    const cached = await Effect.runPromise(verifier.cached)
    check(cached === count, `the cache holds ${cached} tokens, not ${count}`)
    const retainedBytes = after - before
    const perEntryBytes = retainedBytes / (cached - warm)
    log(`  ${cached} cached tokens: ${(retainedBytes / 2 ** 20).toFixed(1)} MiB, ${perEntryBytes.toFixed(0)} B each`)

    // Allocation per cache hit: heap growth over 100 hits right after a full GC; windows in which a scavenge
    // ran show little or no growth, so the median over 41 windows is taken.
    const token = sign()
    await Effect.runPromise(verify(token))
    const hits = 100
    const loop = Effect.gen(function*() {
      for (let i = 0; i < hits; i++) yield* verify(token)
    })
    Effect.runSync(loop)
    const windows: Array<number> = []
    for (let w = 0; w < 41; w++) {
      gc()
      const h0 = heap()
      Effect.runSync(loop)
      const grown = heap() - h0
      if (grown > 0) windows.push(grown / hits)
    }
    const allocatedPerHitBytes = median(windows)
    log(`  one cache hit allocates about ${allocatedPerHitBytes.toFixed(0)} B`)

    // fast-jwt, for context.
    const fastCount = 20_000
    const pem = createPublicKey({ key: key.publicJwk as JsonWebKey, format: "jwk" })
      .export({ type: "spki", format: "pem" })
      .toString()
    const fastTokens = Array.from({ length: fastCount }, () => sign())
    gc()
    const fastBefore = heap()
    const fast = createVerifier({
      key: pem,
      algorithms: ["ES256"],
      allowedIss: issuer,
      allowedAud: audience,
      checkTyp: "at+jwt",
      cache: fastCount
    })
    for (const t of fastTokens) fast(t)
    gc()
    // The tokens are still referenced here, as they were at the baseline: the difference is the cache alone.
    const fastPerEntry = (heap() - fastBefore) / fastCount
    check(fastTokens.length === fastCount, "tokens lost")
    log(`  fast-jwt: ${fastPerEntry.toFixed(0)} B per cached token`)
    return {
      tokens: cached,
      tokenLength,
      retainedBytes,
      perEntryBytes,
      fillMs,
      allocatedPerHitBytes,
      fastJwt: { tokens: fastCount, perEntryBytes: fastPerEntry }
    }
  } finally {
    await close()
    await jwks.close()
  }
}

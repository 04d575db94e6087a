import { describe, expect, it } from "@effect/vitest"
import { RevocationStore } from "@warden/jwt"
import * as Effect from "effect/Effect"
import * as TestClock from "effect/TestClock"

describe("RevocationStore.layerMemory", () => {
  it.effect("keys on (issuer, jti) exactly, and keeps an entry until the token's expiry", () =>
    Effect.gen(function*() {
      const store = yield* RevocationStore.RevocationStore
      yield* store.revoke({ issuer: "https://a", tokenId: "t-1" }, 10)
      expect(yield* store.isRevoked({ issuer: "https://a", tokenId: "t-1" })).toBe(true)
      expect(yield* store.isRevoked({ issuer: "https://b", tokenId: "t-1" })).toBe(false)
      expect(yield* store.isRevoked({ issuer: "https://a", tokenId: "t-2" })).toBe(false)
      // An issuer ending where a token id begins cannot collide with another pair.
      expect(yield* store.isRevoked({ issuer: "https://at", tokenId: "-1" })).toBe(false)
      yield* TestClock.adjust("9 seconds")
      expect(yield* store.isRevoked({ issuer: "https://a", tokenId: "t-1" })).toBe(true)
      yield* TestClock.adjust("1 second")
      expect(yield* store.isRevoked({ issuer: "https://a", tokenId: "t-1" })).toBe(false)
    }).pipe(Effect.provide(RevocationStore.layerMemory)))

  it.effect("a second revocation of a token never shortens the first", () =>
    Effect.gen(function*() {
      const store = yield* RevocationStore.RevocationStore
      const ref = { issuer: "https://a", tokenId: "t-1" }
      yield* store.revoke(ref, 20)
      yield* store.revoke(ref, 10)
      yield* TestClock.adjust("15 seconds")
      expect(yield* store.isRevoked(ref)).toBe(true)
      yield* TestClock.adjust("5 seconds")
      expect(yield* store.isRevoked(ref)).toBe(false)
    }).pipe(Effect.provide(RevocationStore.layerMemory)))
})

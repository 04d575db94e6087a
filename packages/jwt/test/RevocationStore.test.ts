import { describe, expect, it } from "@effect/vitest"
import { RevocationStore } from "@warden/jwt"
import * as Effect from "effect/Effect"
import * as TestClock from "effect/TestClock"

const presented = (
  issuer: string,
  tokenId: string | null,
  subject = "u-1",
  issuedAt: number | null = 0
): RevocationStore.Presented => ({ issuer, tokenId, subject, issuedAt })

describe("RevocationStore.layerMemory", () => {
  it.effect("keys on (issuer, jti) exactly, and keeps an entry until the token's expiry", () =>
    Effect.gen(function*() {
      const store = yield* RevocationStore.RevocationStore
      yield* store.revoke({ issuer: "https://a", tokenId: "t-1" }, 10)
      expect(yield* store.isRevoked(presented("https://a", "t-1"))).toBe(true)
      expect(yield* store.isRevoked(presented("https://b", "t-1"))).toBe(false)
      expect(yield* store.isRevoked(presented("https://a", "t-2"))).toBe(false)
      // An issuer ending where a token id begins cannot collide with another pair.
      expect(yield* store.isRevoked(presented("https://at", "-1"))).toBe(false)
      yield* TestClock.adjust("9 seconds")
      expect(yield* store.isRevoked(presented("https://a", "t-1"))).toBe(true)
      yield* TestClock.adjust("1 second")
      expect(yield* store.isRevoked(presented("https://a", "t-1"))).toBe(false)
    }).pipe(Effect.provide(RevocationStore.layerMemory)))

  it.effect("a second revocation of a token never shortens the first", () =>
    Effect.gen(function*() {
      const store = yield* RevocationStore.RevocationStore
      const ref = { issuer: "https://a", tokenId: "t-1" }
      yield* store.revoke(ref, 20)
      yield* store.revoke(ref, 10)
      yield* TestClock.adjust("15 seconds")
      expect(yield* store.isRevoked(presented(ref.issuer, ref.tokenId))).toBe(true)
      yield* TestClock.adjust("5 seconds")
      expect(yield* store.isRevoked(presented(ref.issuer, ref.tokenId))).toBe(false)
    }).pipe(Effect.provide(RevocationStore.layerMemory)))

  it.effect("a subject cutoff refuses that subject's tokens issued at or before it, with or without jti", () =>
    Effect.gen(function*() {
      const store = yield* RevocationStore.RevocationStore
      yield* TestClock.setTime(1_000_000)
      yield* store.revokeSubject({ issuer: "https://a", subject: "u-1" }, 1_000, 1_100)
      expect(yield* store.isRevoked(presented("https://a", null, "u-1", 999))).toBe(true)
      expect(yield* store.isRevoked(presented("https://a", "t-9", "u-1", 1_000))).toBe(true)
      expect(yield* store.isRevoked(presented("https://a", null, "u-1", 1_001))).toBe(false)
      // A token that does not say when it was issued is refused while the cutoff is kept.
      expect(yield* store.isRevoked(presented("https://a", null, "u-1", null))).toBe(true)
      // Other subjects, other issuers, and an issuer/subject split that would collide without the length prefix.
      expect(yield* store.isRevoked(presented("https://a", null, "u-2", 999))).toBe(false)
      expect(yield* store.isRevoked(presented("https://b", null, "u-1", 999))).toBe(false)
      expect(yield* store.isRevoked(presented("https://au", null, "-1", 999))).toBe(false)
      expect(store.isRevokedNow!(presented("https://a", null, "u-1", 999), 1_000_000)).toBe(true)
      // Kept exactly until its `until`.
      yield* TestClock.setTime(1_099_999)
      expect(yield* store.isRevoked(presented("https://a", null, "u-1", 999))).toBe(true)
      yield* TestClock.setTime(1_100_000)
      expect(yield* store.isRevoked(presented("https://a", null, "u-1", 999))).toBe(false)
    }).pipe(Effect.provide(RevocationStore.layerMemory)))

  it.effect("a later cutoff moves it forward; an earlier one never moves it back or shortens it", () =>
    Effect.gen(function*() {
      const store = yield* RevocationStore.RevocationStore
      const alice = { issuer: "https://a", subject: "alice" }
      yield* store.revokeSubject(alice, 100, 500)
      yield* store.revokeSubject(alice, 50, 200)
      expect(yield* store.isRevoked(presented("https://a", null, "alice", 100))).toBe(true)
      yield* store.revokeSubject(alice, 150, 400)
      expect(yield* store.isRevoked(presented("https://a", null, "alice", 150))).toBe(true)
      yield* TestClock.adjust("450 seconds")
      expect(yield* store.isRevoked(presented("https://a", null, "alice", 150))).toBe(true)
      yield* TestClock.adjust("50 seconds")
      expect(yield* store.isRevoked(presented("https://a", null, "alice", 150))).toBe(false)
    }).pipe(Effect.provide(RevocationStore.layerMemory)))
})

import { describe, expect, it } from "@effect/vitest"
import { Authenticator, AuthError, Credential, Principal, Scopes } from "@warden/core"
import * as Effect from "effect/Effect"
import * as Equal from "effect/Equal"
import * as Redacted from "effect/Redacted"
import * as TestClock from "effect/TestClock"

const bearer = (token: string): Credential.Credential => Credential.bearer(Redacted.make(token))

const authenticate = (token: string) =>
  Effect.flatMap(Authenticator.Authenticator, (authenticator) => authenticator.authenticate(bearer(token)))

const alice = Principal.make({
  subject: "alice",
  tenant: "acme",
  issuer: "https://issuer.example",
  scopes: ["orders.read"]
})

/** Expires at 100 seconds after the epoch; the TestClock starts at 0. */
const shortLived = Principal.make({
  subject: "bob",
  tenant: "acme",
  issuer: "https://issuer.example",
  expiresAt: 100
})

const layer = Authenticator.layerTest([["alice-token", alice], ["bob-token", shortLived]])

describe("Authenticator.layerTest", () => {
  it.effect("authenticates a known token as its principal", () =>
    Effect.gen(function*() {
      const principal = yield* authenticate("alice-token")
      expect(principal).toBe(alice)
      expect(principal.subject).toBe("alice")
    }).pipe(Effect.provide(layer)))

  it.effect("refuses an unknown token as inactive, invalid_token", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(authenticate("mallory-token"))
      expect(error).toBeInstanceOf(AuthError.Unauthenticated)
      expect(error.reason).toBe("inactive")
      expect(error.code).toBe("invalid_token")
      expect(AuthError.httpStatus(error)).toBe(401)
    }).pipe(Effect.provide(layer)))

  it.effect("matches tokens exactly", () =>
    Effect.gen(function*() {
      expect((yield* Effect.flip(authenticate("Alice-token"))).reason).toBe("inactive")
      expect((yield* Effect.flip(authenticate("alice-token "))).reason).toBe("inactive")
      expect((yield* Effect.flip(authenticate(""))).reason).toBe("inactive")
    }).pipe(Effect.provide(layer)))

  it.effect("accepts a principal until its expiry and refuses it as expired from then on", () =>
    Effect.gen(function*() {
      expect((yield* authenticate("bob-token")).subject).toBe("bob")
      yield* TestClock.adjust("99999 millis")
      expect((yield* authenticate("bob-token")).subject).toBe("bob")
      yield* TestClock.adjust("1 millis")
      const error = yield* Effect.flip(authenticate("bob-token"))
      expect(error.reason).toBe("expired")
      expect(error.code).toBe("invalid_token")
      yield* TestClock.adjust("1 hour")
      expect((yield* Effect.flip(authenticate("bob-token"))).reason).toBe("expired")
      // a principal without an expiry never expires
      expect(yield* authenticate("alice-token")).toBe(alice)
    }).pipe(Effect.provide(layer)))

  it.effect("knows no token with an empty table", () =>
    Effect.gen(function*() {
      expect((yield* Effect.flip(authenticate("alice-token"))).reason).toBe("inactive")
    }).pipe(Effect.provide(Authenticator.layerTest([]))))
})

describe("Principal.make", () => {
  it("fills in the defaults", () => {
    expect(alice).toBeInstanceOf(Principal.Principal)
    expect(alice.kind).toBe("user")
    expect(alice.tenant).toBe("acme")
    expect(alice.tenants).toEqual(["acme"])
    expect(alice.clientId).toBeNull()
    expect(alice.tokenId).toBeNull()
    expect(alice.expiresAt).toBeNull()
    expect(alice.authenticatedBy).toBe("test")
    expect(alice.permissions).toEqual({ allow: [], deny: [] })
    expect(Scopes.isScopes(alice.scopes)).toBe(true)
    expect(alice.scopes.has("orders.read")).toBe(true)
    expect(alice.scopes.size).toBe(1)
    const bare = Principal.make({ subject: "carol", tenant: "acme", issuer: "https://issuer.example" })
    expect(Equal.equals(bare.scopes, Scopes.empty)).toBe(true)
  })

  it("decodes scopes and keeps permissions as given", () => {
    const principal = Principal.make({
      subject: "svc",
      kind: "service",
      clientId: "billing",
      tenant: "acme",
      tenants: ["acme", "globex"],
      issuer: "https://issuer.example",
      scopes: ["b", "a", "b"],
      permissions: { allow: ["orders:*"] }
    })
    expect(principal.kind).toBe("service")
    expect(principal.clientId).toBe("billing")
    expect(principal.scopes.tokens).toEqual(["b", "a"])
    expect(principal.permissions).toEqual({ allow: ["orders:*"], deny: [] })
  })

  it("signs its own tenant and the tenants listed, exactly", () => {
    const principal = Principal.make({
      subject: "alice",
      tenant: "acme",
      tenants: ["acme", "globex"],
      issuer: "https://issuer.example"
    })
    expect(principal.signs("acme")).toBe(true)
    expect(principal.signs("globex")).toBe(true)
    expect(principal.signs("Acme")).toBe(false)
    expect(principal.signs("initech")).toBe(false)
    expect(alice.signs("globex")).toBe(false)
  })

  it("always lists its own tenant among the tenants it signs", () => {
    const principal = Principal.make({ subject: "dave", tenant: "acme", tenants: ["initech"], issuer: "https://i" })
    expect(principal.tenants).toEqual(["acme", "initech"])
  })

  it.each(["acme corp", "", "../x", "-acme", "acm\u00e9", "a".repeat(129)])(
    "throws on the malformed tenant id %j",
    (tenant) => {
      expect(() => Principal.make({ subject: "alice", tenant, issuer: "https://issuer.example" })).toThrow()
    }
  )

  it("throws on a malformed tenant among the tenants it signs", () => {
    expect(() => Principal.make({ subject: "alice", tenant: "acme", tenants: ["acme", "../x"], issuer: "https://i" }))
      .toThrow()
  })

  it("throws on a malformed subject, client id or scope", () => {
    expect(() => Principal.make({ subject: "", tenant: "acme", issuer: "https://i" })).toThrow()
    expect(() => Principal.make({ subject: "a\nb", tenant: "acme", issuer: "https://i" })).toThrow()
    expect(() => Principal.make({ subject: "a".repeat(256), tenant: "acme", issuer: "https://i" })).toThrow()
    expect(() => Principal.make({ subject: "a", clientId: "", tenant: "acme", issuer: "https://i" })).toThrow()
    expect(() => Principal.make({ subject: "a", tenant: "acme", issuer: "https://i", scopes: ["a b"] })).toThrow()
  })

  it("accepts a subject of 255 characters", () => {
    expect(Principal.make({ subject: "a".repeat(255), tenant: "acme", issuer: "https://i" }).subject).toHaveLength(255)
  })
})

describe("Credential.bearer", () => {
  it("never shows its token: not printed, not serialised, not inspected; readable as Redacted or by secretOf", async () => {
    const { inspect } = await import("node:util")
    const credential = Credential.bearer("s3cret-token-Zq")
    expect(String(credential)).not.toContain("s3cret")
    expect(JSON.stringify(credential)).not.toContain("s3cret")
    expect(inspect(credential, { depth: 5, showHidden: true })).not.toContain("s3cret")
    expect(JSON.stringify({ nested: [credential] })).not.toContain("s3cret")
    expect(Redacted.value(credential.token)).toBe("s3cret-token-Zq")
    expect(String(credential.token)).not.toContain("s3cret")
    expect(Credential.secretOf(credential)).toBe("s3cret-token-Zq")
    // A credential built elsewhere, with a Redacted token, reads the same.
    expect(Credential.secretOf({ _tag: "Bearer", token: Redacted.make("other") })).toBe("other")
  })
})

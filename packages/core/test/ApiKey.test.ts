import { describe, expect, it } from "@effect/vitest"
import { ApiKey, Authenticator, Credential } from "@warden/core"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import * as TestClock from "effect/TestClock"

const Live = ApiKey.layerAuthenticator.pipe(Layer.provideMerge(ApiKey.layerMemory))

const authenticate = (key: string | Redacted.Redacted<string>) =>
  Effect.flatMap(Authenticator.Authenticator, (a) => a.authenticate(Credential.apiKey(key)))

const reasonOf = <A>(exit: Exit.Exit<A, { readonly reason: string }>) =>
  Exit.isSuccess(exit) ? "ok" : exit.cause._tag === "Fail" ? exit.cause.error.reason : `defect: ${exit.cause._tag}`

const issueAndSave = (options: ApiKey.IssueOptions) =>
  Effect.gen(function*() {
    const issued = yield* ApiKey.issue(options)
    yield* Effect.flatMap(ApiKey.ApiKeyStore, (store) => store.save(issued.stored))
    return issued
  })

describe("ApiKey", () => {
  it.effect("a key authenticates as the principal it names, and the store never holds the key", () =>
    Effect.gen(function*() {
      const { key, stored } = yield* issueAndSave({
        prefix: "wk_live",
        subject: "billing",
        tenant: "acme",
        tenants: ["globex"],
        scopes: ["invoices.read"]
      })
      const text = Redacted.value(key)
      expect(text).toMatch(/^wk_live_[0-9a-f]{80}$/)
      expect(JSON.stringify(stored)).not.toContain(text.slice(-64))
      const principal = yield* authenticate(key)
      expect(principal).toMatchObject({
        kind: "service",
        subject: "billing",
        tenant: "acme",
        tenants: ["acme", "globex"],
        authenticatedBy: "api_key",
        tokenId: stored.id
      })
      expect(principal.scopes.tokens).toEqual(["invoices.read"])
      // The same principal object for every call with the same key: its grants compile once.
      expect(yield* authenticate(key)).toBe(principal)
    }).pipe(Effect.provide(Live)))

  it.effect("refuses a wrong secret under a known id, an unknown id, another form, and other credentials", () =>
    Effect.gen(function*() {
      const { key, stored } = yield* issueAndSave({ subject: "s", tenant: "acme" })
      const text = Redacted.value(key)
      const flipped = `${text.slice(0, -1)}${text.endsWith("0") ? "1" : "0"}`
      expect(reasonOf(yield* Effect.exit(authenticate(flipped)))).toBe("inactive")
      expect(reasonOf(yield* Effect.exit(authenticate(`wk_${"a".repeat(16)}${text.slice(-64)}`)))).toBe("inactive")
      for (const malformed of ["", "wk_", `WK_${text.slice(3)}`, `${text} `, `${text}0`, `wk_${stored.id}`]) {
        expect(reasonOf(yield* Effect.exit(authenticate(malformed)))).toBe("malformed")
      }
      const bearer = yield* Effect.exit(
        Effect.flatMap(Authenticator.Authenticator, (a) => a.authenticate(Credential.bearer(text)))
      )
      expect(reasonOf(bearer)).toBe("unsupported_credential")
    }).pipe(Effect.provide(Live)))

  it.effect("rotation keeps the old key for the overlap only; revocation ends a key at once; expiry too", () =>
    Effect.gen(function*() {
      const old = yield* issueAndSave({ subject: "s", tenant: "acme", lifetime: "1 day" })
      const fresh = yield* ApiKey.rotate(old.stored.id, { overlap: "1 hour" })
      expect(reasonOf(yield* Effect.exit(authenticate(old.key)))).toBe("ok")
      expect(reasonOf(yield* Effect.exit(authenticate(fresh.key)))).toBe("ok")
      expect((yield* authenticate(fresh.key)).subject).toBe("s")
      yield* TestClock.adjust("61 minutes")
      expect(reasonOf(yield* Effect.exit(authenticate(old.key)))).toBe("expired")
      expect(reasonOf(yield* Effect.exit(authenticate(fresh.key)))).toBe("ok")
      yield* ApiKey.revoke(fresh.stored.id)
      expect(reasonOf(yield* Effect.exit(authenticate(fresh.key)))).toBe("revoked")
      const brief = yield* issueAndSave({ subject: "s", tenant: "acme", lifetime: "1 minute" })
      yield* TestClock.adjust("2 minutes")
      expect(reasonOf(yield* Effect.exit(authenticate(brief.key)))).toBe("expired")
      expect(Exit.isFailure(yield* Effect.exit(ApiKey.rotate(fresh.stored.id, { overlap: "1 hour" })))).toBe(true)
    }).pipe(Effect.provide(Live)))

  it.effect("an unavailable store refuses the key as unavailable, never accepts it", () =>
    Effect.gen(function*() {
      const { key } = yield* ApiKey.issue({ subject: "s", tenant: "acme" })
      const down = Layer.succeed(ApiKey.ApiKeyStore, {
        find: () => Effect.fail(new ApiKey.StoreUnavailable({ message: "down" })),
        save: () => Effect.fail(new ApiKey.StoreUnavailable({ message: "down" }))
      })
      const exit = yield* Effect.exit(
        authenticate(key).pipe(Effect.provide(ApiKey.layerAuthenticator.pipe(Layer.provide(down))))
      )
      expect(reasonOf(exit)).toBe("unavailable")
    }))

  it.effect("issue refuses a bad prefix or fields no principal can have, as a typed error", () =>
    Effect.gen(function*() {
      for (const options of [{ prefix: "WK", subject: "s", tenant: "acme" }, { subject: "s", tenant: "a b" }]) {
        const exit = yield* Effect.exit(ApiKey.issue(options))
        expect(exit).toMatchObject({ _tag: "Failure", cause: { _tag: "Fail", error: { _tag: "InvalidKeyOptions" } } })
      }
    }))
})

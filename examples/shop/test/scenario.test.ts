import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { readFileSync } from "node:fs"
import { fileURLToPath } from "node:url"
import { scenario } from "../src/scenario.js"

describe("the shop scenario over HTTP", () => {
  it.effect("allows alice, keeps bob in globex, refuses carol's missing scope, the anonymous caller and a forged token", () =>
    Effect.gen(function*() {
      const result = yield* scenario
      expect(result.steps.map((s) => [s.caller, s.outcome])).toEqual([
        ["alice@acme", "allowed"],
        ["bob@globex", "allowed"],
        ["carol@acme", "refused"],
        ["(no token)", "refused"],
        ["mallory", "refused"]
      ])
      expect(result.steps[0]?.detail).toContain("tenant=acme user=alice")
      // bob named acme in the payload; the reservation landed in globex.
      expect(result.steps[1]?.detail).toContain("tenant=globex user=bob (payload named tenant=acme)")
      expect(result.acmeUntouchedByGlobex).toBe(true)
      expect([result.globexBefore, result.globexAfter]).toEqual([5, 4])
      expect(result.steps[2]?.detail).toContain("insufficient_scope, missing_scope")
      expect(result.steps[2]?.http).toContain("403")
      expect(result.steps[3]?.detail).toContain("no error code, missing_credentials")
      expect(result.steps[3]?.http).toBe("401 WWW-Authenticate: Bearer realm=\"shop\"")
      expect(result.steps[4]?.detail).toContain("invalid_token, unknown_key")
      expect(result.audit.map((e) => [e.subject, e.decision, e.reason])).toEqual([
        ["alice", "allowed", "scope orders.write"],
        ["carol", "denied", "missing_scope"]
      ])
    }))
})

describe("the README", () => {
  it("quick start is examples/shop/src/quickstart.ts, which type-checks with the workspace", () => {
    const root = fileURLToPath(new URL("../../..", import.meta.url))
    const readme = readFileSync(`${root}/README.md`, "utf8")
    const block = /```ts\n([\s\S]*?)```/.exec(readme)?.[1]
    expect(block).toBe(readFileSync(`${root}/examples/shop/src/quickstart.ts`, "utf8"))
    expect(block?.trimEnd().split("\n").length).toBeLessThan(30)
  })
})

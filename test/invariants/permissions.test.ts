/**
 * Invariant 3: a deny always wins, and a broader wildcard never grants less
 * than a narrower grant. And, like scopes, nothing outside the grammar is
 * granted: a malformed permission is never allowed, whatever the grants.
 *
 * Worlds are catalogues with grants and denies drawn from their own
 * permissions and wildcards (and some malformed grants), so checks hit.
 */
import { describe, expect, it } from "@effect/vitest"
import { Permission, Policy, Scopes } from "@warden/core"
import { Arbitraries } from "@warden/testing"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as FastCheck from "effect/FastCheck"
import { runs } from "./runs.js"

/** A catalogue, its principal's grants and denies, and one of its permissions. */
const world = Arbitraries.permissions.chain((permissions) =>
  FastCheck.record({
    permissions: FastCheck.constant(permissions),
    grants: Arbitraries.grants({ from: permissions, malformed: true }),
    permission: FastCheck.constantFrom(...permissions)
  })
)

const isAllowed = (check: Permission.Check) => check._tag === "Allowed"

/** What `Policy.permission` decides for a principal with these grants. */
const decide = (permissions: ReadonlyArray<string>, grants: Permission.Grants, permission: string) =>
  Effect.runSync(
    Policy.decide(Policy.permission(Permission.catalogue(...permissions), permission)).pipe(
      Effect.provideService(Scopes.CurrentScopes, { scopes: Scopes.empty, permissions: Permission.compile(grants) })
    )
  )

describe("invariant: permissions", () => {
  it.prop(
    "a deny that covers a permission wins over every grant, wherever it stands among the denies",
    [
      world.chain((w) =>
        FastCheck.record({
          world: FastCheck.constant(w),
          deny: FastCheck.constantFrom(w.permission, ...Arbitraries.wildcardsOf(w.permission)),
          at: FastCheck.nat({ max: w.grants.deny.length })
        })
      )
    ],
    ([{ at, deny, world: { grants, permission, permissions } }]) => {
      const denies = [...grants.deny.slice(0, at), deny, ...grants.deny.slice(at)]
      // Grant it every way there is, so only the deny can stand in the way.
      const allows = [...grants.allow, permission, ...Arbitraries.wildcardsOf(permission)]
      const check = Permission.compile({ allow: allows, deny: denies }).check(permission)
      expect(check._tag).toBe("Denied")
      if (check._tag === "Denied") {
        expect([permission, ...Arbitraries.wildcardsOf(permission)]).toContain(check.rule)
        expect(denies).toContain(check.rule)
      }
      expect(decide(permissions, { allow: allows, deny: denies }, permission)).toMatchObject({
        _tag: "Denied",
        reason: "denied_permission"
      })
    },
    runs()
  )

  it.prop(
    "a broader wildcard never grants less than a narrower grant: replacing one by the other only adds",
    [
      world.chain((w) => {
        const narrower = [w.permission, ...Arbitraries.wildcardsOf(w.permission)]
        return FastCheck.record({
          world: FastCheck.constant(w),
          // The wildcards of a permission, broadest first: any later one is narrower than any earlier one.
          pair: FastCheck.tuple(
            FastCheck.nat({ max: narrower.length - 1 }),
            FastCheck.nat({ max: narrower.length - 1 })
          ).map(([i, j]) => {
            const ordered = [...Arbitraries.wildcardsOf(w.permission), w.permission]
            return { broad: ordered[Math.min(i, j)]!, narrow: ordered[Math.max(i, j)]! }
          }),
          probes: FastCheck.array(Arbitraries.permission, { maxLength: 8 })
        })
      })
    ],
    ([{ pair: { broad, narrow }, probes, world: { grants, permissions } }]) => {
      const others = grants.allow.filter((g) => g !== narrow)
      const withNarrow = Permission.compile({ allow: [...others, narrow], deny: grants.deny })
      const withBroad = Permission.compile({ allow: [...others, broad], deny: grants.deny })
      const without = Permission.compile({ allow: others, deny: grants.deny })
      // Probe the catalogue, the permissions just below the narrow grant, and some others.
      const below = narrow.endsWith("*") ? [`${narrow.slice(0, -1)}x`, `${narrow.slice(0, -1)}x:y`] : [narrow]
      for (const q of [...permissions, ...below, ...probes]) {
        const [n, b, w] = [withNarrow.check(q), withBroad.check(q), without.check(q)]
        if (isAllowed(n)) expect(isAllowed(b), `${broad} grants less than ${narrow} for ${q}`).toBe(true)
        if (isAllowed(w)) expect(isAllowed(b), `adding ${broad} took ${q} away`).toBe(true)
        // Denies are untouched by what is granted.
        expect(n._tag === "Denied").toBe(b._tag === "Denied")
      }
    },
    runs()
  )

  it.prop(
    "nothing outside the permission grammar is granted, whatever the grants",
    [
      world.chain((w) =>
        FastCheck.record({
          world: FastCheck.constant(w),
          malformed: FastCheck.oneof(
            Arbitraries.invalidPermission,
            // A catalogue permission spoilt after its valid prefix, under grants that cover that prefix.
            FastCheck.constantFrom(" x", ":", ":a b", ":*", ":a:b:c:d:e:f:g:h").map((flaw) => `${w.permission}${flaw}`)
          )
        })
      )
    ],
    ([{ malformed, world: { grants, permission } }]) => {
      expect(Either.isLeft(Permission.validate(malformed))).toBe(true)
      const allow = [...grants.allow, "*", ...Arbitraries.wildcardsOf(permission)]
      expect(Permission.compile({ allow, deny: grants.deny }).check(malformed)._tag).not.toBe("Allowed")
    },
    runs()
  )
})

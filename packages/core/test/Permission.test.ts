import { describe, expect, it } from "@effect/vitest"
import { Permission } from "@warden/core"
import * as Either from "effect/Either"
import * as FastCheck from "effect/FastCheck"
import * as Schema from "effect/Schema"

const props = { fastCheck: { numRuns: 1000 } }

const check = (allow: ReadonlyArray<string>, deny: ReadonlyArray<string>, permission: string): Permission.Check =>
  Permission.compile({ allow, deny }).check(permission)

// ---------------------------------------------------------------------------
// A plain reference implementation of the matching rules, written from the
// module's documentation and independent of the trie.
// ---------------------------------------------------------------------------

const referenceSegment = /^[A-Za-z0-9_.-]+$/

const isWellFormedGrant = (grant: string): boolean => {
  if (grant.length === 0 || grant.length > 256) return false
  const segments = grant.split(":")
  if (segments.length > 8) return false
  return segments.every((s, i) => referenceSegment.test(s) || (s === "*" && i === segments.length - 1))
}

const covers = (grant: string, permission: string): boolean => {
  if (grant === "*") return true
  if (grant.endsWith(":*")) {
    const prefix = grant.slice(0, -1)
    return permission.startsWith(prefix) && permission.length > prefix.length
  }
  return grant === permission
}

const referenceCheck = (
  allow: ReadonlyArray<string>,
  deny: ReadonlyArray<string>,
  permission: string
): Permission.Check["_tag"] => {
  const allows = allow.filter(isWellFormedGrant)
  // A malformed deny fails closed: what it was meant to refuse cannot be known.
  if (!deny.every(isWellFormedGrant)) return "Denied"
  if (deny.some((d) => covers(d, permission))) return "Denied"
  if (allows.some((a) => covers(a, permission))) return "Allowed"
  return "NotGranted"
}

// ---------------------------------------------------------------------------
// Generators: a small alphabet of segments so that grants and permissions
// collide, share prefixes, and differ by a suffix ("a" and "ab").
// ---------------------------------------------------------------------------

const segment = FastCheck.constantFrom("a", "b", "ab", "a.b", "x_1", "B")
const segments = (min: number, max: number) => FastCheck.array(segment, { minLength: min, maxLength: max })
const permission = segments(1, 4).map((s) => s.join(":"))
const catalogue = FastCheck.uniqueArray(permission, { minLength: 1, maxLength: 12 })

const wildcardGrant = FastCheck.oneof(
  FastCheck.constant("*"),
  segments(1, 3).map((s) => `${s.join(":")}:*`)
)

const malformedGrant = FastCheck.oneof(
  permission.map((p) => `${p}*`),
  FastCheck.tuple(permission, permission).map(([p, q]) => `${p}:*:${q}`),
  permission.map((p) => `${p}:`),
  permission.map((p) => `:${p}`),
  FastCheck.tuple(permission, permission).map(([p, q]) => `${p}::${q}`),
  permission.map((p) => `*:${p}`),
  permission.map((p) => `${p}:**`),
  permission.map((p) => ` ${p}`),
  permission.map((p) => `${p}:\u043e`),
  segments(8, 9).map((s) => `${s.join(":")}:*`),
  segments(9, 10).map((s) => s.join(":")),
  FastCheck.constantFrom("", "**", "orders*", "a b", ":", ":*", "a:*b", "a.*", "*a", "a".repeat(257))
)

const grant = FastCheck.oneof(
  { weight: 4, arbitrary: permission },
  { weight: 3, arbitrary: wildcardGrant },
  { weight: 2, arbitrary: malformedGrant }
)
const grants = FastCheck.array(grant, { maxLength: 6 })

describe("Permission.compile: examples from the specification", () => {
  it("tenant:* covers every permission below tenant:", () => {
    expect(check(["tenant:*"], [], "tenant:user:list")).toEqual({ _tag: "Allowed", grant: "tenant:*" })
    expect(check(["tenant:*"], [], "tenant:user")).toEqual({ _tag: "Allowed", grant: "tenant:*" })
  })

  it("tenant:* does not cover tenant itself, nor a sibling sharing its first letters", () => {
    expect(check(["tenant:*"], [], "tenant")).toEqual({ _tag: "NotGranted" })
    expect(check(["tenant:*"], [], "tenants:user")).toEqual({ _tag: "NotGranted" })
    expect(check(["tenant:*"], [], "orders:read")).toEqual({ _tag: "NotGranted" })
  })

  it("* covers every permission", () => {
    for (const p of ["tenant", "tenant:user", "tenant:user:list", "a:b:c:d:e:f:g:h"]) {
      expect(check(["*"], [], p)).toEqual({ _tag: "Allowed", grant: "*" })
    }
  })

  it("orders* is not a wildcard: it grants nothing and is listed as ignored", () => {
    const set = Permission.compile({ allow: ["orders*"], deny: [] })
    expect(set.ignored).toEqual(["orders*"])
    expect(set.check("orders")).toEqual({ _tag: "NotGranted" })
    expect(set.check("orders:read")).toEqual({ _tag: "NotGranted" })
    expect(set.check("ordersX")).toEqual({ _tag: "NotGranted" })
    expect(set.check("orders*")).toEqual({ _tag: "NotGranted" })
  })

  it("a wildcard that is not the last segment grants nothing and is listed as ignored", () => {
    const set = Permission.compile({ allow: ["a:*:b", "*:b"], deny: [] })
    expect(set.ignored).toEqual(["a:*:b", "*:b"])
    expect(set.check("a:x:b")).toEqual({ _tag: "NotGranted" })
    expect(set.check("x:b")).toEqual({ _tag: "NotGranted" })
  })

  it("tenant:user covers tenant:user only, never tenant:username:list nor tenant:user:list", () => {
    expect(check(["tenant:user"], [], "tenant:user")).toEqual({ _tag: "Allowed", grant: "tenant:user" })
    expect(check(["tenant:user"], [], "tenant:username:list")).toEqual({ _tag: "NotGranted" })
    expect(check(["tenant:user"], [], "tenant:user:list")).toEqual({ _tag: "NotGranted" })
    expect(check(["tenant:user"], [], "tenant:username")).toEqual({ _tag: "NotGranted" })
    expect(check(["tenant:user"], [], "tenant")).toEqual({ _tag: "NotGranted" })
  })

  it("a deny wins over a wildcard grant of everything, naming the deny rule", () => {
    const set = Permission.compile({ allow: ["*"], deny: ["tenant:user:delete"] })
    expect(set.check("tenant:user:delete")).toEqual({ _tag: "Denied", rule: "tenant:user:delete" })
    expect(set.check("tenant:user:list")).toEqual({ _tag: "Allowed", grant: "*" })
  })

  it("a wildcard deny wins over an exact grant, naming the deny rule", () => {
    const set = Permission.compile({ allow: ["tenant:user:delete"], deny: ["tenant:*"] })
    expect(set.check("tenant:user:delete")).toEqual({ _tag: "Denied", rule: "tenant:*" })
    expect(set.check("orders:read")).toEqual({ _tag: "NotGranted" })
  })

  it("a deny of * denies every permission", () => {
    const set = Permission.compile({ allow: ["*", "tenant:user"], deny: ["*"] })
    expect(set.check("tenant:user")).toEqual({ _tag: "Denied", rule: "*" })
    expect(set.check("x")).toEqual({ _tag: "Denied", rule: "*" })
  })

  it("an exact deny does not reach the permissions below it", () => {
    const set = Permission.compile({ allow: ["tenant:*"], deny: ["tenant:user"] })
    expect(set.check("tenant:user")).toEqual({ _tag: "Denied", rule: "tenant:user" })
    expect(set.check("tenant:user:list")).toEqual({ _tag: "Allowed", grant: "tenant:*" })
  })

  it("a malformed deny denies everything (naming the first one) and is listed as ignored after the grants", () => {
    const set = Permission.compile({ allow: ["bad grant", "tenant:*"], deny: ["tenant*", "tenant:user:", "**"] })
    expect(set.ignored).toEqual(["bad grant", "tenant*", "tenant:user:", "**"])
    expect(set.check("tenant:user:delete")).toEqual({ _tag: "Denied", rule: "tenant*" })
    expect(set.check("orders:read")).toEqual({ _tag: "Denied", rule: "tenant*" })
  })

  it("grants nothing with no grants", () => {
    expect(Permission.emptySet.check("tenant:user")).toEqual({ _tag: "NotGranted" })
    expect(Permission.emptySet.ignored).toEqual([])
    expect(Permission.compile(Permission.none).check("a")).toEqual({ _tag: "NotGranted" })
  })

  it("grants nothing for the empty permission, even with *", () => {
    expect(check(["*"], [], "")).toEqual({ _tag: "NotGranted" })
  })

  it("matches segments case-sensitively", () => {
    expect(check(["Tenant:*"], [], "tenant:user")).toEqual({ _tag: "NotGranted" })
    expect(check(["tenant:User"], [], "tenant:user")).toEqual({ _tag: "NotGranted" })
  })

  it("accepts a grant of eight segments and ignores one of nine", () => {
    const eight = "a:b:c:d:e:f:g:*"
    const nine = "a:b:c:d:e:f:g:h:*"
    const set = Permission.compile({ allow: [eight, nine], deny: [] })
    expect(set.ignored).toEqual([nine])
    expect(set.check("a:b:c:d:e:f:g:h")).toEqual({ _tag: "Allowed", grant: eight })
  })
})

describe("Permission.compile: what a check reports", () => {
  it("names the most specific grant that covers the permission", () => {
    expect(check(["*", "tenant:*", "tenant:user:list"], [], "tenant:user:list")).toEqual({
      _tag: "Allowed",
      grant: "tenant:user:list"
    })
    expect(check(["*", "tenant:*"], [], "tenant:user:list")).toEqual({ _tag: "Allowed", grant: "tenant:*" })
    expect(check(["*"], [], "tenant:user:list")).toEqual({ _tag: "Allowed", grant: "*" })
  })

  it.each(["a:b ", "a:", ":a", "a::b", "a:b:*", "a b", "a:\u0431"])(
    "never grants the malformed permission %j, even under *",
    (permission) => {
      expect(check(["*", "a:*", "a:b"], [], permission)._tag).toBe("NotGranted")
    }
  )
})

describe("Permission.compile: properties", () => {
  it.prop(
    "agrees with the reference implementation on every permission of a catalogue",
    [catalogue, grants, grants],
    ([permissions, allow, deny]) => {
      const set = Permission.compile({ allow, deny })
      for (const p of permissions) {
        const result = set.check(p)
        expect(result._tag, `check(${p}) with allow ${JSON.stringify(allow)} deny ${JSON.stringify(deny)}`)
          .toBe(referenceCheck(allow, deny, p))
        if (result._tag === "Allowed") {
          expect(allow).toContain(result.grant)
          expect(isWellFormedGrant(result.grant) && covers(result.grant, p)).toBe(true)
        }
        if (result._tag === "Denied") {
          expect(deny).toContain(result.rule)
          if (deny.every(isWellFormedGrant)) expect(covers(result.rule, p)).toBe(true)
          else expect(result.rule).toBe(deny.find((d) => !isWellFormedGrant(d)))
        }
      }
      expect(set.ignored).toEqual([...allow, ...deny].filter((g) => !isWellFormedGrant(g)))
    },
    props
  )

  const coveringDeny = (permission: string, choice: number): string => {
    const parts = permission.split(":")
    // choice 0: "*"; 1..n-1: a prefix of 1..n-1 segments followed by ":*"; n: the permission itself.
    const k = choice % (parts.length + 1)
    return k === 0 ? "*" : k === parts.length ? permission : `${parts.slice(0, k).join(":")}:*`
  }

  it.prop(
    "a covering deny always wins, whatever else is granted or denied",
    [catalogue, grants, grants, FastCheck.nat(), FastCheck.nat(), FastCheck.nat()],
    ([permissions, allow, deny, which, choice, at]) => {
      const target = permissions[which % permissions.length]!
      const rule = coveringDeny(target, choice)
      expect(covers(rule, target)).toBe(true)
      const position = at % (deny.length + 1)
      const denyMore = [...deny.slice(0, position), rule, ...deny.slice(position)]
      const result = check(allow, denyMore, target)
      expect(result._tag).toBe("Denied")
      // (with a malformed deny among them, the first malformed one is named: it denies everything)
      if (result._tag === "Denied" && denyMore.every(isWellFormedGrant)) expect(covers(result.rule, target)).toBe(true)
      // and it denies no permission it does not cover, beyond what was already denied
      for (const p of permissions) {
        if (!covers(rule, p)) expect(check(allow, denyMore, p)._tag).toBe(check(allow, deny, p)._tag)
      }
    },
    props
  )

  const grantAndBroader = FastCheck.record({
    segments: segments(1, 4),
    wildcard: FastCheck.boolean(),
    choice: FastCheck.nat()
  }).map(({ choice, segments: parts, wildcard }) => {
    const g = wildcard ? `${parts.join(":")}:*` : parts.join(":")
    // A wildcard w covers everything g covers: "*", or a prefix of g's segments followed by ":*"
    // (any prefix when g is a wildcard, a strict prefix when g is exact).
    const longest = wildcard ? parts.length : parts.length - 1
    const k = choice % (longest + 1)
    const w = k === 0 ? "*" : `${parts.slice(0, k).join(":")}:*`
    const coveredByG = wildcard ? `${parts.join(":")}:a` : parts.join(":")
    return { g, w, coveredByG }
  })

  it.prop(
    "a broader wildcard never grants less than the narrower grant it replaces",
    [catalogue, grantAndBroader, grants],
    ([permissions, { coveredByG, g, w }, others]) => {
      const withG = Permission.compile({ allow: [g, ...others], deny: [] })
      const withW = Permission.compile({ allow: [w, ...others], deny: [] })
      expect(withG.check(coveredByG)._tag).toBe("Allowed")
      for (const p of [coveredByG, ...permissions]) {
        if (withG.check(p)._tag === "Allowed") expect(withW.check(p)._tag, `${p} with ${w} for ${g}`).toBe("Allowed")
        if (covers(g, p)) expect(withW.check(p)._tag).toBe("Allowed")
      }
    },
    props
  )

  it.prop(
    "the order of grants and denies does not change the verdict",
    [catalogue, grants, grants],
    ([permissions, allow, deny]) => {
      const forward = Permission.compile({ allow, deny })
      const backward = Permission.compile({ allow: [...allow].reverse(), deny: [...deny].reverse() })
      for (const p of permissions) expect(forward.check(p)._tag).toBe(backward.check(p)._tag)
    },
    props
  )
})

describe("Permission.catalogue", () => {
  const shop = Permission.catalogue("orders:read", "orders:write", "tenant:user:list", "tenant:user:delete")

  it("lists its permissions in the order declared", () => {
    expect(shop.permissions).toEqual(["orders:read", "orders:write", "tenant:user:list", "tenant:user:delete"])
  })

  it("knows its permissions exactly", () => {
    expect(shop.has("orders:read")).toBe(true)
    expect(shop.has("tenant:user:delete")).toBe(true)
    expect(shop.has("orders")).toBe(false)
    expect(shop.has("orders:*")).toBe(false)
    expect(shop.has("orders:Read")).toBe(false)
    expect(shop.has("")).toBe(false)
  })

  it("builds grants with empty defaults", () => {
    expect(shop.grants({ allow: ["orders:*"] })).toEqual({ allow: ["orders:*"], deny: [] })
    expect(shop.grants({ deny: ["tenant:user:*"] })).toEqual({ allow: [], deny: ["tenant:user:*"] })
    expect(shop.grants({})).toEqual({ allow: [], deny: [] })
  })

  it("types grants against the catalogue", () => {
    const grants = shop.grants({
      allow: ["*", "orders:*", "tenant:user:*", "tenant:*", "orders:read"],
      // @ts-expect-error "billing:*" is not a grant of this catalogue
      deny: ["billing:*"]
    })
    expect(grants.deny).toEqual(["billing:*"])
  })

  it.each([
    { bad: "orders*", name: "a wildcard" },
    { bad: "orders:*", name: "a wildcard segment" },
    { bad: "", name: "the empty string" },
    { bad: "orders:", name: "an empty segment" },
    { bad: "orders read", name: "a space" },
    { bad: "a:b:c:d:e:f:g:h:i", name: "nine segments" },
    { bad: "\u043erders:read", name: "a look-alike letter" }
  ])("throws at declaration on $name", ({ bad }) => {
    expect(() => Permission.catalogue("orders:read", bad)).toThrow(`"${bad}" is not a permission`)
  })

  it("accepts eight segments", () => {
    expect(Permission.catalogue("a:b:c:d:e:f:g:h").has("a:b:c:d:e:f:g:h")).toBe(true)
  })
})

describe("Permission.validate and validateGrant", () => {
  it("accepts permissions and rejects wildcards as permissions", () => {
    expect(Permission.validate("tenant:user:list")).toEqual(Either.right("tenant:user:list"))
    const error = Either.getOrThrow(Either.flip(Permission.validate("tenant:*")))
    expect(error._tag).toBe("InvalidPermission")
    expect(error.input).toBe("tenant:*")
  })

  it("accepts wildcard grants and rejects malformed ones", () => {
    expect(Permission.validateGrant("tenant:*")).toEqual(Either.right("tenant:*"))
    expect(Permission.validateGrant("*")).toEqual(Either.right("*"))
    expect(Permission.validateGrant("tenant:user")).toEqual(Either.right("tenant:user"))
    const error = Either.getOrThrow(Either.flip(Permission.validateGrant("tenant*")))
    expect(error.message).toBe(
      "\"tenant*\" is not a grant: use a permission, or a prefix of one followed by ':*', or '*'"
    )
  })

  it.prop(
    "validateGrant agrees with the reference on well-formedness",
    [grant],
    ([g]) => {
      expect(Either.isRight(Permission.validateGrant(g))).toBe(isWellFormedGrant(g))
    },
    props
  )

  it("the Permission schema decodes a permission and fails with a ParseError on a wildcard", () => {
    expect(Schema.decodeUnknownSync(Permission.Permission)("orders:read")).toBe("orders:read")
    const error = Either.getOrThrow(Either.flip(Schema.decodeUnknownEither(Permission.Permission)("orders:*")))
    expect(error._tag).toBe("ParseError")
    expect(error.message).toContain("a permission is 1 to 8 ':'-separated segments")
  })
})

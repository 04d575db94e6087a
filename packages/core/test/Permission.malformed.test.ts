import { describe, expect, it } from "@effect/vitest"
import { Permission } from "@warden/core"

describe("Permission.compile: a wildcard never grants what is not a permission", () => {
  it.each([
    ["inventory: inventory"],
    ["a:b c"],
    ["a:b:"],
    ["a:b:*"],
    ["a:b:c:d:e:f:g:h:i"],
    [`a:${"x".repeat(300)}`]
  ])("%j is not granted by * or a:*, however shallow the trie", (permission) => {
    for (const allow of [["*"], ["a:*"]]) {
      expect(Permission.compile({ allow, deny: [] }).check(permission)._tag).toBe("NotGranted")
    }
  })
})

describe("Permission.compile: a malformed deny fails closed", () => {
  it.each([["orders*"], ["a:*:b"], [""], ["a b"]])("a deny %j denies every permission, whatever is granted", (rule) => {
    const set = Permission.compile({ allow: ["*", "orders:read"], deny: ["billing:*", rule] })
    for (const permission of ["orders:read", "billing:invoice", "x"]) {
      expect(set.check(permission)).toEqual({ _tag: "Denied", rule })
    }
    expect(set.ignored).toEqual([rule])
  })
})

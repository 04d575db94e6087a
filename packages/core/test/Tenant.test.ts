import { describe, expect, it } from "@effect/vitest"
import { Tenant } from "@warden/core"
import * as Either from "effect/Either"
import * as FastCheck from "effect/FastCheck"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"

const decode = Schema.decodeUnknownEither(Tenant.TenantId)

const props = { fastCheck: { numRuns: 1000 } }

const first = FastCheck.constantFrom(..."abcXYZ019")
const rest = FastCheck.constantFrom(..."abcXYZ019._-")

describe("Tenant.TenantId", () => {
  it.each(["acme", "globex-1", "A", "0", "acme.eu_west-2", "Acme", "a".repeat(128)])("accepts %j as it is", (id) => {
    expect(decode(id)).toEqual(Either.right(id))
    expect(Tenant.decodeOption(id)).toEqual(Option.some(id))
  })

  it.each([
    { id: "", why: "empty" },
    { id: "acme corp", why: "a space" },
    { id: " acme", why: "a leading space" },
    { id: "acme\n", why: "a trailing newline" },
    { id: "-acme", why: "a leading '-'" },
    { id: ".acme", why: "a leading '.'" },
    { id: "_acme", why: "a leading '_'" },
    { id: "../x", why: "a path" },
    { id: "acme/eu", why: "a '/'" },
    { id: "a".repeat(129), why: "129 characters" },
    { id: "acm\u00e9", why: "a non-ASCII letter" },
    { id: "\u0430cme", why: "a Cyrillic look-alike" },
    { id: "ａcme", why: "a fullwidth letter" }
  ])("rejects $why", ({ id }) => {
    const error = Either.getOrThrow(Either.flip(decode(id)))
    expect(error._tag).toBe("ParseError")
    expect(error.message).toContain(
      "a tenant id is 1 to 128 letters, digits, '.', '_' or '-', starting with a letter or digit"
    )
    expect(Option.isNone(Tenant.decodeOption(id))).toBe(true)
  })

  it("rejects a non-string", () => {
    expect(Either.isLeft(decode(42))).toBe(true)
    expect(Option.isNone(Tenant.decodeOption(null))).toBe(true)
  })

  it.prop(
    "accepts any 1 to 128 characters of the alphabet starting with a letter or digit",
    [first, FastCheck.string({ unit: rest, maxLength: 127 })],
    ([head, tail]) => {
      expect(decode(head + tail)).toEqual(Either.right(head + tail))
    },
    props
  )

  it.prop(
    "rejects any id containing a character outside the alphabet",
    [
      FastCheck.string({ unit: rest, maxLength: 20 }),
      FastCheck.string({ unit: "binary", minLength: 1, maxLength: 1 })
        .filter((c) => !/^[A-Za-z0-9._-]$/.test(c)),
      FastCheck.string({ unit: rest, maxLength: 20 })
    ],
    ([before, bad, after]) => {
      expect(Either.isLeft(decode(`a${before}${bad}${after}`))).toBe(true)
    },
    props
  )
})

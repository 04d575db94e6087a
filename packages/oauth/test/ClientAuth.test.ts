import { describe, expect, it } from "@effect/vitest"
import { ClientAuth } from "@warden/oauth"
import * as Redacted from "effect/Redacted"

describe("ClientAuth.fromBasic", () => {
  it("reads back what apply writes, form-encoding included", () => {
    for (const [clientId, secret] of [["web", "s3cret"], ["a b:c", "p+q %/ é"]] as const) {
      const { headers } = ClientAuth.apply({ clientId, clientSecret: Redacted.make(secret) })
      const read = ClientAuth.fromBasic(headers["authorization"]!)
      expect([read?.clientId, read && Redacted.value(read.clientSecret)]).toEqual([clientId, secret])
    }
  })

  it("is undefined for anything that is not well-formed Basic credentials", () => {
    const b64 = (s: string) => Buffer.from(s).toString("base64")
    for (const header of ["Bearer x", "Basic", "Basic !!!", `Basic ${b64("no-colon")}`, `Basic ${b64("%zz:x")}`]) {
      expect(ClientAuth.fromBasic(header), header).toBeUndefined()
    }
  })
})

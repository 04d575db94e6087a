/**
 * The inventory's authorization matrix, as `npm start` prints it, pinned:
 * changing a policy or a role changes this table, and this test with it.
 */
import { describe, expect, it } from "@effect/vitest"
import { Matrix, Policy, Roles } from "@warden/core"
import { Protected } from "@warden/rpc"
import { readFileSync } from "node:fs"
import { fileURLToPath } from "node:url"
import { InventoryRpcs, Perms, policies, roles } from "../src/inventory.js"
import { inventoryMatrix, userScopes } from "../src/shop.js"

type Row = readonly [procedure: string, column: string, outcome: Matrix.Cell["outcome"], reason: string, string | null]
const cell = ([procedure, column, outcome, reason, requirement]: Row): Matrix.Cell => ({
  procedure,
  column,
  outcome,
  reason,
  requirement
})

/** The cells by "procedure/column", to compare two tables. */
const byKey = (matrix: Matrix.Matrix) => new Map(matrix.cells.map((c) => [`${c.procedure}/${c.column}`, c]))
const changed = (before: Matrix.Matrix, after: Matrix.Matrix) => {
  const old = byKey(before)
  return after.cells.filter((c) => JSON.stringify(c) !== JSON.stringify(old.get(`${c.procedure}/${c.column}`)))
}

describe("the inventory's authorization matrix", () => {
  it("decides every procedure for every role as the policies and roles say", () => {
    // Every role column carries a user token's scopes, so the scope policies decide every role alike; the
    // permission policies follow the roles: admin's * covers everything but the delete it is denied (a deny wins
    // over *), clerk reads and adjusts, auditor only reads, and nobody may remove a SKU.
    expect(userScopes).toEqual(["orders.write", "orders.read", "stock.read"])
    const adjust = "permission inventory:stock:adjust"
    const remove = "permission inventory:stock:delete"
    const rows: ReadonlyArray<Row> = [
      // Only an order reserves stock: a token orders exchanged, never a person's own (whatever the role).
      ["Reserve", "admin", "refused", "no_actor", "actor orders"],
      ["Reserve", "clerk", "refused", "no_actor", "actor orders"],
      ["Reserve", "auditor", "refused", "no_actor", "actor orders"],
      ["WatchStock", "admin", "allowed", "scope stock.read", null],
      ["WatchStock", "clerk", "allowed", "scope stock.read", null],
      ["WatchStock", "auditor", "allowed", "scope stock.read", null],
      ["StockLevel", "admin", "allowed", "permission *", null],
      ["StockLevel", "clerk", "allowed", "permission inventory:stock:read", null],
      ["StockLevel", "auditor", "allowed", "permission inventory:stock:read", null],
      ["AdjustStock", "admin", "allowed", "permission *", null],
      ["AdjustStock", "clerk", "allowed", adjust, null],
      ["AdjustStock", "auditor", "refused", "missing_permission", adjust],
      ["RemoveSku", "admin", "refused", "denied_permission", remove],
      ["RemoveSku", "clerk", "refused", "missing_permission", remove],
      ["RemoveSku", "auditor", "refused", "missing_permission", remove],
      ["Health", "admin", "public", "public", null],
      ["Health", "clerk", "public", "public", null],
      ["Health", "auditor", "public", "public", null]
    ]
    expect(inventoryMatrix("acme")).toEqual({
      procedures: ["Reserve", "WatchStock", "StockLevel", "AdjustStock", "RemoveSku", "Health"],
      columns: ["admin", "clerk", "auditor"],
      cells: rows.map(cell)
    })
  })

  it("prints as the Markdown table npm start shows, one row per procedure", () => {
    const lines = Matrix.toMarkdown(inventoryMatrix("acme")).split("\n")
    expect(lines).toHaveLength(8)
    expect(lines[0]).toBe("| procedure | admin | clerk | auditor |")
    expect(lines[6]).toBe(
      "| RemoveSku | refused: denied_permission permission inventory:stock:delete | " +
        "refused: missing_permission permission inventory:stock:delete | " +
        "refused: missing_permission permission inventory:stock:delete |"
    )
  })

  it("is the table the README shows", () => {
    const readme = readFileSync(fileURLToPath(new URL("../../../README.md", import.meta.url)), "utf8")
    expect(readme).toContain(Matrix.toMarkdown(inventoryMatrix("acme")))
  })

  it("changes with a role: exactly the cells the changed roles decide differently", () => {
    const before = inventoryMatrix("acme")
    // clerk no longer adjusts; admin loses the deny that kept it from removing SKUs.
    const changedRoles = Roles.define(Perms, {
      admin: { allow: ["*"] },
      clerk: { allow: ["inventory:stock:read"] },
      auditor: { allow: ["inventory:stock:read"] }
    })
    const after = Matrix.make(Protected.procedures(Protected.group(InventoryRpcs, policies)), {
      roles: changedRoles,
      tenant: "acme",
      scopes: userScopes
    })
    expect(Matrix.toJson(after)).not.toBe(Matrix.toJson(before))
    expect(changed(before, after)).toEqual([
      cell(["AdjustStock", "clerk", "refused", "missing_permission", "permission inventory:stock:adjust"]),
      cell(["RemoveSku", "admin", "allowed", "permission *", null])
    ])
    // The shop's own roles are untouched by the experiment.
    expect(roles.role("admin").deny).toEqual(["inventory:stock:delete"])
  })

  it("changes with a policy: adjusting stock that also needs a scope no user token carries is refused to all", () => {
    const before = inventoryMatrix("acme")
    const stricter = Protected.group(InventoryRpcs, {
      ...policies,
      AdjustStock: Policy.all(Policy.scope("stock.adjust"), Policy.permission(Perms, "inventory:stock:adjust"))
    })
    const after = Matrix.make(Protected.procedures(stricter), { roles, tenant: "acme", scopes: userScopes })
    expect(changed(before, after)).toEqual(
      roles.names.map((role) => cell(["AdjustStock", role, "refused", "missing_scope", "scope stock.adjust"]))
    )
  })
})

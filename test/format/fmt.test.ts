import assert from "node:assert/strict";
import { test } from "node:test";
import { createSourceFile } from "../../src/diagnostics/source.js";
import { formatDocument } from "../../src/format/fmt.js";
import { parse } from "../../src/syntax/parse.js";
import { exampleNames, readExample } from "../helpers/specs.js";

const fmt = (text: string) => {
  const r = parse(createSourceFile("f.mdr", text));
  assert.deepEqual(r.diagnostics, []);
  return formatDocument(r.document);
};

for (const name of exampleNames) {
  test(`fmt is idempotent on examples/movielens/${name}.mdr and the example is already formatted`, () => {
    const text = readExample(name);
    const once = fmt(text);
    assert.equal(fmt(once), once);
    assert.equal(once, text, "examples are kept in canonical layout");
  });
}

test("fmt normalises layout and keeps every comment", () => {
  const messy = `# head comment
model   m{label:"y"   # why y
  domain d {values:[a,b,
  c]}


  # features next
  features{ numeric x{} }
  experts e { layers: [4],count:2 }   # inline block kept
  # dangling at end
}
`;
  const out = fmt(messy);
  assert.equal(out, `# head comment
model m {
  label: "y" # why y
  domain d {
    values: [a, b, c]
  }

  # features next
  features {
    numeric x {}
  }
  experts e { layers: [4], count: 2 } # inline block kept
  # dangling at end
}
`);
  assert.equal(fmt(out), out);
  for (const c of ["# head comment", "# why y", "# features next", "# inline block kept", "# dangling at end"]) assert.ok(out.includes(c));
});

test("fmt keeps string escapes and number spellings", () => {
  const out = fmt(`model m { label: "a \\"q\\" b", x: 1e-3, y: -0.50 }`);
  assert.ok(out.includes(`label: "a \\"q\\" b"`));
  assert.ok(out.includes("x: 1e-3") && out.includes("y: -0.50"));
});

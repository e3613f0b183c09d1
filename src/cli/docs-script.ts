// `npm run docs`: regenerates grammar/diagrams.html and the reference tables of grammar/README.md.
import { readFileSync } from "node:fs";
import { referenceMarkdown } from "../spec/reference.js";
import { grammarDiagramsHtml } from "../syntax/diagrams.js";
import { writeFileAtomic } from "./files.js";

export function withReference(readme: string): string {
  return readme.replace(/<!-- reference:start -->[\s\S]*<!-- reference:end -->/, `<!-- reference:start -->\n${referenceMarkdown()}\n<!-- reference:end -->`);
}

if (process.argv[1]?.endsWith("docs-script.js")) {
  writeFileAtomic("grammar/diagrams.html", grammarDiagramsHtml());
  writeFileAtomic("grammar/README.md", withReference(readFileSync("grammar/README.md", "utf8")));
  process.stdout.write("wrote grammar/diagrams.html and grammar/README.md\n");
}

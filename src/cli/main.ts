import { Command, CommanderError } from "commander";
import { mdrcVersion } from "../compiler/version.js";
import { UserError } from "../diagnostics/errors.js";
import { registerBench } from "./bench.js";
import { registerCompile } from "./compile.js";
import { registerEval } from "./eval.js";
import { registerExport } from "./export.js";
import { registerFmt } from "./fmt.js";
import { registerInspect } from "./inspect.js";
import { registerPredict } from "./predict.js";
import { registerReport } from "./report.js";
import { registerIndex, registerRetrieve } from "./retrieval.js";
import { registerServe } from "./serve.js";
import { registerTrain } from "./train.js";
import { registerValidate } from "./validate.js";


export function buildProgram(): Command {
  const program = new Command("mdr")
    .description("compile multi-domain recommendation specs (.mdr) to ONNX and run them")
    .version(mdrcVersion)
    .showHelpAfterError()
    .exitOverride();
  registerValidate(program);
  registerFmt(program);
  registerInspect(program);
  registerCompile(program);
  registerPredict(program);
  registerTrain(program);
  registerEval(program);
  registerServe(program);
  registerExport(program);
  registerReport(program);
  registerBench(program);
  registerIndex(program);
  registerRetrieve(program);
  for (const c of program.commands) c.exitOverride();
  return program;
}

/** Runs the CLI; user errors print one line and set the exit code, only compiler bugs show a stack. */
export async function main(argv: string[]): Promise<void> {
  // `mdr … | head` closes the pipe early: stop quietly, as other command-line tools do.
  for (const stream of [process.stdout, process.stderr]) {
    stream.on("error", (e: NodeJS.ErrnoException) => {
      if (e.code === "EPIPE") process.exit(process.exitCode ?? 0);
      throw e;
    });
  }
  try {
    await buildProgram().parseAsync(argv);
  } catch (e) {
    if (e instanceof CommanderError) {
      // Help and version exit 0; a usage mistake exits 2 (commander has printed the message).
      process.exitCode = e.exitCode === 0 ? 0 : 2;
    } else if (e instanceof UserError) {
      process.stderr.write(`mdr: ${e.kind ? `${e.kind}: ` : ""}${e.message}\n`);
      process.exitCode = e.exitCode;
    } else {
      process.stderr.write(`mdr: internal error — this is a bug in mdrc, please report it with the input that caused it.\n${(e as Error).stack ?? e}\n`);
      process.exitCode = 70;
    }
  }
}

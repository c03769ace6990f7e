"""The `spark` (Scala) kind of the embedded engine: Spark's own REPL compiler, in the session's JVM.

PySpark ships `spark-repl` and `scala-compiler` in `pyspark/jars` (they are what
`bin/spark-shell` runs). A session process already has a JVM holding its SparkContext, so
the Scala interpreter is built there through py4j and bound to the same `spark` and `sc`:
a Scala cell and a PySpark cell of one session see the same tables and cached data. The
interpreter is class-based and writes its classes to the directory Spark serves to
executors (`spark.repl.class.outputDir`, set when the session starts), so closures defined
in a cell (`ds.map(x => ...)`, case classes) run on executors too.

Output is what `spark-shell` prints: the REPL's own echo (`val res0: Long = 100`) and
anything the cell writes to `Console.out`.
"""

from __future__ import annotations

import re
from typing import Any

#: the Spark setting that makes executors load classes the REPL compiled
CLASS_DIR_SETTING = "spark.repl.class.outputDir"
#: what spark-shell runs before the first prompt (SparkILoop.initializationCommands)
PRELUDE = (
    "import org.apache.spark.SparkContext._",
    "import spark.implicits._",
    "import spark.sql",
    "import org.apache.spark.sql.functions._",
)
_EXCEPTION = re.compile(r"^([\w.$]+(?:Exception|Error)):? ?(.*)$")


class ScalaError(Exception):
    """A Scala cell that did not compile or threw: `ename`/`evalue` as Livy reports them."""

    def __init__(self, ename: str, evalue: str, traceback: list[str]) -> None:
        super().__init__(evalue)
        self.ename, self.evalue, self.traceback = ename, evalue, traceback


def describe_failure(output: str, incomplete: bool) -> ScalaError:
    """Livy's reading of a failed Scala line: the exception's class and message when it
    threw, "Error" with the compiler's message when it did not compile."""
    if incomplete:
        return ScalaError("Error", "incomplete statement", [])
    lines = [line for line in output.splitlines() if line.strip()]
    for i, line in enumerate(lines):
        match = _EXCEPTION.match(line.strip())
        if match:
            return ScalaError(match.group(1), match.group(2), [f"{t}\n" for t in lines[i + 1 :]])
    message = "\n".join(line.strip() for line in lines)
    return ScalaError("Error", message or "the statement failed", [])


class ScalaInterpreter:
    """One Scala REPL bound to the session's `spark` and `sc`; `run(code)` per statement.

    Every call is a py4j call from the session's main thread (pinned to one JVM thread),
    so the Console redirection set here holds for the statements it runs.
    """

    def __init__(self, spark: Any, class_dir: str) -> None:
        jvm = spark.sparkContext._jvm
        self._jvm = jvm
        args = jvm.java.util.ArrayList()
        for arg in ("-Yrepl-class-based", "-Yrepl-outdir", class_dir):
            args.add(arg)
        settings = jvm.scala.tools.nsc.Settings()
        settings.processArguments(self._scala_list(args), True)
        settings.usejavacp().tryToSetFromPropertyValue("true")  # the JVM's classpath: Spark's
        self._buffer = jvm.java.io.ByteArrayOutputStream()
        writer = jvm.java.io.PrintWriter(self._buffer, True)
        reporter = jvm.scala.tools.nsc.interpreter.shell.ReplReporterImpl(settings, writer)
        self._intp = jvm.scala.tools.nsc.interpreter.IMain(settings, reporter)
        if not self._intp.initializeCompiler():
            raise RuntimeError(f"the Scala compiler did not start: {self._take()}")
        self._redirect_console()
        none = self._scala_list(jvm.java.util.ArrayList())
        session = spark._jsparkSession
        self._intp.bind("spark", session.getClass().getName(), session, none)
        self._intp.bind("sc", "org.apache.spark.SparkContext", spark.sparkContext._jsc.sc(), none)
        for line in PRELUDE:
            self._intp.interpret(line)
        self._take()

    def _scala_list(self, items: Any) -> Any:
        return self._jvm.scala.jdk.javaapi.CollectionConverters.asScala(items).toList()

    def _redirect_console(self) -> None:
        """`println` in a cell writes to scala.Console.out, a per-thread variable that
        Scala 2.13 sets only through `Console.withOut(...) { ... }` (a closure py4j cannot
        pass): set the variable itself, for this JVM thread."""
        console = self._jvm.java.lang.Class.forName("scala.Console$")
        module = console.getField("MODULE$").get(None)
        field = console.getDeclaredField("outVar")
        field.setAccessible(True)
        stream = self._jvm.java.io.PrintStream(self._buffer, True, "UTF-8")
        getattr(field.get(module), "value_$eq")(stream)

    def _take(self) -> str:
        text = str(self._buffer.toString("UTF-8"))
        self._buffer.reset()
        return text

    def run(self, code: str) -> str:
        """The cell's output; raises ScalaError when it did not compile or threw."""
        self._redirect_console()  # cheap, and a cell may have replaced it
        self._take()
        result = str(self._intp.interpret(code).toString())
        output = self._take()
        if result == "Success":
            return output.rstrip("\n")
        raise describe_failure(output, incomplete=result == "Incomplete")

    def close(self) -> None:
        try:
            self._intp.close()
        except Exception:  # the JVM may be going away with the session
            return

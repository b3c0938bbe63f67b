//! What every sandbox is checked with: one row per sandbox folder.

/// The checks of one sandbox.
pub(super) struct Case {
    pub sandbox: &'static str,
    /// Exactly what the sandbox's example prints.
    pub example: &'static str,
    /// A program that reads stdin; `None` where the language has no stdin
    /// of its own (a Redis script is itself the client's input).
    pub stdin: Option<Stdin>,
    /// Programs that fail, each with a piece of the toolchain's message.
    pub failures: &'static [Failure],
    /// Databases: what one run makes, and what the next run must not find.
    pub fresh: Option<Fresh>,
    /// Programs as tutorials write them, with the libraries and idioms they
    /// use, and exactly what each prints.
    pub tutorials: &'static [Tutorial],
}

pub(super) struct Tutorial {
    pub code: &'static str,
    pub stdout: &'static str,
}

pub(super) struct Stdin {
    pub code: &'static str,
    pub input: &'static str,
    pub stdout: &'static str,
}

pub(super) struct Failure {
    /// "compile error" or "runtime error".
    pub what: &'static str,
    pub code: &'static str,
    /// A piece of stderr.
    pub stderr: &'static str,
}

pub(super) struct Fresh {
    pub make: &'static str,
    pub look: &'static str,
    /// In the second run's stdout or stderr: what was made is not there.
    pub absent: &'static str,
}

const fn stdin(code: &'static str, input: &'static str, stdout: &'static str) -> Option<Stdin> {
    Some(Stdin {
        code,
        input,
        stdout,
    })
}

const fn compile(code: &'static str, stderr: &'static str) -> Failure {
    Failure {
        what: "compile error",
        code,
        stderr,
    }
}

const fn runtime(code: &'static str, stderr: &'static str) -> Failure {
    Failure {
        what: "runtime error",
        code,
        stderr,
    }
}

/// The line every stdin check feeds, and what its program prints.
const NAME: &str = "world\n";
const HELLO: &str = "Hello, world!\n";

/// SQL databases: a table one run makes, that the next must not see.
const fn fresh_table(absent: &'static str) -> Option<Fresh> {
    Some(Fresh {
        make: "create table kept (x int);",
        look: "select * from kept;",
        absent,
    })
}

pub(super) const CASES: &[Case] = &[
    Case {
        sandbox: "python",
        tutorials: &[],
        example: "the: 3\nquick: 1\n",
        stdin: stdin("print(f'Hello, {input()}!')", NAME, HELLO),
        failures: &[
            compile("print('unclosed'", "SyntaxError"),
            runtime("print(1 / 0)", "ZeroDivisionError: division by zero"),
        ],
        fresh: None,
    },
    Case {
        sandbox: "python-data",
        tutorials: &[],
        example: "plotted 100 points\n",
        stdin: stdin(
            "import pandas as pd\nprint(f'Hello, {input()}!')",
            NAME,
            HELLO,
        ),
        failures: &[
            compile("print('unclosed'", "SyntaxError"),
            runtime(
                "import pandas as pd\npd.DataFrame({'a': [1]})['b']",
                "KeyError: 'b'",
            ),
        ],
        fresh: None,
    },
    Case {
        sandbox: "javascript",
        tutorials: &[],
        example: "1. Hello\n2. world\n",
        stdin: stdin(
            "const name = require('fs').readFileSync(0, 'utf8').trim();\nconsole.log(`Hello, ${name}!`);",
            NAME,
            HELLO,
        ),
        failures: &[
            compile("let = ;", "SyntaxError"),
            runtime("null.x;", "TypeError: Cannot read properties of null"),
        ],
        fresh: None,
    },
    Case {
        sandbox: "typescript",
        tutorials: &[Tutorial {
            code: "function logged(method: any, context: ClassMethodDecoratorContext) {\n  return function (this: any, ...args: any[]) {\n    console.log(`calling ${String(context.name)}`);\n    return method.apply(this, args);\n  };\n}\n\nclass Greeter {\n  @logged\n  greet(name: string): string {\n    return `Hello, ${name}!`;\n  }\n}\n\nconsole.log(new Greeter().greet('docs'));\n",
            stdout: "calling greet\nHello, docs!\n",
        }],
        example: "Circle: 3.14\nSquare: 4.00\n",
        stdin: stdin(
            "import { readFileSync } from 'node:fs';\nconst name: string = readFileSync(0, 'utf8').trim();\nconsole.log(`Hello, ${name}!`);",
            NAME,
            HELLO,
        ),
        failures: &[
            compile("let x: = 1;", "ERROR"),
            runtime("throw new Error('boom');", "Error: boom"),
            runtime(
                "const n: number = 1;\n\nthrow new Error(`boom ${n}`);\n",
                "main.ts:3",
            ),
        ],
        fresh: None,
    },
    Case {
        sandbox: "bash",
        tutorials: &[],
        example: "Hello, Snipbox!\nHello, World!\n",
        stdin: stdin("read name\necho \"Hello, $name!\"", NAME, HELLO),
        failures: &[
            compile("if then fi", "syntax error"),
            runtime("no-such-command", "no-such-command: command not found"),
        ],
        fresh: None,
    },
    Case {
        sandbox: "c",
        tutorials: &[],
        example: "(1, 2) -> 2\n(3, 4) -> 12\n",
        stdin: stdin(
            "#include <stdio.h>\nint main(void) { char s[32]; scanf(\"%31s\", s); printf(\"Hello, %s!\\n\", s); }",
            NAME,
            HELLO,
        ),
        failures: &[
            compile(
                "int main(void) { return oops; }",
                "error: ‘oops’ undeclared",
            ),
            runtime(
                "#include <assert.h>\nint main(void) { assert(1 == 2); }",
                "Assertion `1 == 2' failed",
            ),
        ],
        fresh: None,
    },
    Case {
        sandbox: "cpp",
        tutorials: &[],
        example: "Hello from C++23 (3 words)\n",
        stdin: stdin(
            "#include <iostream>\n#include <string>\nint main() { std::string s; std::cin >> s; std::cout << \"Hello, \" << s << \"!\\n\"; }",
            NAME,
            HELLO,
        ),
        failures: &[
            compile(
                "int main() { undefined_fn(); }",
                "was not declared in this scope",
            ),
            runtime(
                "#include <stdexcept>\nint main() { throw std::runtime_error(\"boom\"); }",
                "what():  boom",
            ),
        ],
        fresh: None,
    },
    Case {
        sandbox: "go",
        tutorials: &[],
        example: "HELLO\nFROM\nA\nGOROUTINE\n",
        stdin: stdin(
            "package main\n\nimport \"fmt\"\n\nfunc main() {\n\tvar s string\n\tfmt.Scan(&s)\n\tfmt.Printf(\"Hello, %s!\\n\", s)\n}\n",
            NAME,
            HELLO,
        ),
        failures: &[
            compile(
                "package main\n\nfunc main() {\n\tx := 1\n}\n",
                "declared and not used: x",
            ),
            runtime(
                "package main\n\nfunc main() {\n\tpanic(\"boom\")\n}\n",
                "panic: boom",
            ),
        ],
        fresh: None,
    },
    Case {
        sandbox: "rust",
        tutorials: &[],
        example: "Circle(1.0): 3.14\nSquare(2.0): 4.00\n",
        stdin: stdin(
            "fn main() {\n    let mut s = String::new();\n    std::io::stdin().read_line(&mut s).unwrap();\n    println!(\"Hello, {}!\", s.trim());\n}\n",
            NAME,
            HELLO,
        ),
        failures: &[
            compile(
                "fn main() { let x: i32 = \"s\"; }",
                "error[E0308]: mismatched types",
            ),
            runtime("fn main() { panic!(\"boom\"); }", "boom"),
        ],
        fresh: None,
    },
    Case {
        sandbox: "java",
        tutorials: &[],
        example: "Point[x=1, y=2] -> 2\nPoint[x=3, y=4] -> 12\n",
        stdin: stdin(
            "import java.util.Scanner;\n\npublic class Main {\n    public static void main(String[] args) {\n        var name = new Scanner(System.in).nextLine();\n        System.out.println(\"Hello, \" + name + \"!\");\n    }\n}\n",
            NAME,
            HELLO,
        ),
        failures: &[
            compile(
                "public class Main {\n    public static void main(String[] args) {\n        int x = \"s\";\n    }\n}\n",
                "error: incompatible types",
            ),
            runtime(
                "public class Main {\n    public static void main(String[] args) {\n        throw new IllegalStateException(\"boom\");\n    }\n}\n",
                "java.lang.IllegalStateException: boom",
            ),
        ],
        fresh: None,
    },
    Case {
        sandbox: "ruby",
        tutorials: &[],
        example: "1: (1, 2)\n2: (3, 4)\n",
        stdin: stdin("puts \"Hello, #{gets.chomp}!\"", NAME, HELLO),
        failures: &[
            compile("def broken(", "syntax error"),
            runtime("raise 'boom'", "boom (RuntimeError)"),
        ],
        fresh: None,
    },
    Case {
        sandbox: "php",
        tutorials: &[Tutorial {
            code: "<?php\necho mb_strtoupper('größe'), \"\\n\";\n$xml = simplexml_load_string('<langs><lang year=\"1995\">PHP</lang></langs>');\necho $xml->lang, ' ', $xml->lang['year'], \"\\n\";\necho bcadd('0.1', '0.2', 2), ' ', gmp_strval(gmp_pow(2, 70)), \"\\n\";\necho (new NumberFormatter('de_DE', NumberFormatter::DECIMAL))->format(1234.5), \"\\n\";\n$db = new PDO('sqlite::memory:');\necho $db->query('select 6 * 7')->fetchColumn(), \"\\n\";",
            stdout: "GRÖSSE\nPHP 1995\n0.30 1180591620717411303424\n1.234,5\n42\n",
        }],
        example: "python 1991\nphp    1995\nruby   1995\n",
        stdin: stdin(
            "<?php\n$name = trim(fgets(STDIN));\necho \"Hello, $name!\\n\";",
            NAME,
            HELLO,
        ),
        failures: &[
            compile("<?php\necho 'a' echo 'b';", "PHP Parse error"),
            runtime(
                "<?php\nthrow new Exception('boom');",
                "Uncaught Exception: boom",
            ),
        ],
        fresh: None,
    },
    Case {
        sandbox: "perl",
        tutorials: &[],
        example: "the  3\nand  2\nbat  1\ncat  1\nhat  1\n",
        stdin: stdin(
            "chomp(my $name = <STDIN>);\nprint \"Hello, $name!\\n\";",
            NAME,
            HELLO,
        ),
        failures: &[
            compile("my $x = ;", "syntax error"),
            runtime("die \"boom\\n\";", "boom"),
        ],
        fresh: None,
    },
    Case {
        sandbox: "lua",
        tutorials: &[],
        example: "1 1 2 3 5 8 13 21 34 55\n",
        stdin: stdin("print('Hello, ' .. io.read() .. '!')", NAME, HELLO),
        failures: &[
            compile("x = = 1", "unexpected symbol"),
            runtime("error('boom')", "boom"),
        ],
        fresh: None,
    },
    Case {
        sandbox: "r",
        tutorials: &[],
        example: "  name score\n1  ada    90\n3   cy    85\n2  bob    72\nmean: 82.33333 \n",
        stdin: stdin(
            "name <- readLines(file('stdin'), n = 1)\ncat('Hello, ', name, '!\\n', sep = '')",
            NAME,
            HELLO,
        ),
        failures: &[
            compile("x <- (1", "unexpected end of input"),
            runtime("stop('boom')", "Error: boom"),
        ],
        fresh: None,
    },
    Case {
        sandbox: "haskell",
        tutorials: &[],
        example: "[1,9,25,49,81]\nsum: 165\n",
        stdin: stdin(
            "main :: IO ()\nmain = do\n  name <- getLine\n  putStrLn (\"Hello, \" ++ name ++ \"!\")\n",
            NAME,
            HELLO,
        ),
        failures: &[
            compile("main = putStrLn 1", "No instance for"),
            runtime("main = error \"boom\"", "boom"),
        ],
        fresh: None,
    },
    Case {
        sandbox: "ocaml",
        tutorials: &[],
        example: "0 1 1 2 3 5 8 13 21 34\n",
        stdin: stdin(
            "let () = Printf.printf \"Hello, %s!\\n\" (read_line ())",
            NAME,
            HELLO,
        ),
        failures: &[
            compile(
                "let x : int = \"s\"",
                "Error: This constant has type \"string\"",
            ),
            runtime("let () = failwith \"boom\"", "Failure \"boom\""),
        ],
        fresh: None,
    },
    Case {
        sandbox: "elixir",
        tutorials: &[],
        example: "3 letters: 4\n4 letters: 2\n5 letters: 3\n",
        stdin: stdin(
            "name = IO.gets(\"\") |> String.trim()\nIO.puts(\"Hello, #{name}!\")",
            NAME,
            HELLO,
        ),
        failures: &[
            compile(
                "IO.puts(undefined_var)",
                "undefined variable \"undefined_var\"",
            ),
            runtime("raise \"boom\"", "(RuntimeError) boom"),
        ],
        fresh: None,
    },
    Case {
        sandbox: "clojure",
        tutorials: &[],
        example: "(1 2 Fizz 4 Buzz Fizz 7 8 Fizz Buzz 11 Fizz 13 14 FizzBuzz)\n",
        stdin: stdin("(println (str \"Hello, \" (read-line) \"!\"))", NAME, HELLO),
        failures: &[
            compile(
                "(println (undefined-fn 1))",
                "Unable to resolve symbol: undefined-fn",
            ),
            runtime("(println (/ 1 0))", "Divide by zero"),
        ],
        fresh: None,
    },
    Case {
        sandbox: "fortran",
        tutorials: &[],
        example: "   1   4   9  16  25\nsum: 55\n",
        stdin: stdin(
            "program hello\n  character(len=32) :: name\n  read (*, '(A)') name\n  print '(3A)', 'Hello, ', trim(name), '!'\nend program hello\n",
            NAME,
            HELLO,
        ),
        failures: &[
            compile("program broken\n  x = \nend program broken\n", "Error:"),
            runtime(
                "program broken\n  error stop 'boom'\nend program broken\n",
                "ERROR STOP boom",
            ),
        ],
        fresh: None,
    },
    Case {
        sandbox: "swift",
        tutorials: &[],
        example: "(1, 2) 2\n(3, 4) 12\n",
        stdin: stdin("print(\"Hello, \\(readLine()!)!\")", NAME, HELLO),
        failures: &[
            compile("let x: Int = \"s\"", "error: cannot convert value"),
            runtime("fatalError(\"boom\")", "Fatal error: boom"),
        ],
        fresh: None,
    },
    Case {
        sandbox: "crystal",
        tutorials: &[Tutorial {
            code: "require \"big\"\n\nputs BigInt.new(2) ** 100\n",
            stdout: "1267650600228229401496703205376\n",
        }],
        example: "(1, 2) -> 2\n(3, 4) -> 12\n",
        stdin: stdin("puts \"Hello, #{gets.not_nil!.chomp}!\"", NAME, HELLO),
        failures: &[
            compile("puts undefined_var", "undefined local variable or method"),
            runtime("raise \"boom\"", "Unhandled exception: boom"),
        ],
        fresh: None,
    },
    Case {
        sandbox: "pascal",
        tutorials: &[Tutorial {
            code: "program Dict;\n{$mode delphi}\nuses Generics.Collections;\nvar\n  ages: TDictionary<string, Integer>;\nbegin\n  ages := TDictionary<string, Integer>.Create;\n  ages.Add('Ada', 36);\n  ages.Add('Alan', 41);\n  writeln(ages['Alan']);\n  ages.Free;\nend.\n",
            stdout: "41\n",
        }],
        example: "1! = 1\n2! = 2\n3! = 6\n4! = 24\n5! = 120\n",
        stdin: stdin(
            "program Hello;\nvar name: string;\nbegin\n  ReadLn(name);\n  WriteLn('Hello, ', name, '!');\nend.\n",
            NAME,
            HELLO,
        ),
        failures: &[
            compile(
                "program Broken;\nbegin\n  x := 1;\nend.\n",
                "Identifier not found \"x\"",
            ),
            runtime(
                "program Broken;\nvar a, b: Integer;\nbegin\n  a := 1; b := 0;\n  WriteLn(a div b);\nend.\n",
                "Runtime error 200",
            ),
        ],
        fresh: None,
    },
    Case {
        sandbox: "prolog",
        tutorials: &[Tutorial {
            code: ":- initialization(main, main).\n\nmain :-\n    format(\"hello from main~n\").\n",
            stdout: "hello from main\n",
        }],
        example: "ann\npat\n",
        stdin: stdin(
            ":- initialization(main).\nmain :- read_term(user_input, Name, []), format(\"Hello, ~w!~n\", [Name]).\n",
            "world.\n",
            HELLO,
        ),
        failures: &[
            compile("broken(.\n", "Syntax error"),
            runtime(
                ":- initialization(main).\nmain :- X is 1 / 0, write(X).\n",
                "Arithmetic: evaluation error: `zero_divisor'",
            ),
        ],
        fresh: None,
    },
    Case {
        sandbox: "racket",
        tutorials: &[],
        example: "fib(1) = 1\nfib(2) = 1\nfib(3) = 2\nfib(4) = 3\nfib(5) = 5\n",
        stdin: stdin(
            "#lang racket/base\n(printf \"Hello, ~a!\\n\" (read-line))\n",
            NAME,
            HELLO,
        ),
        failures: &[
            compile(
                "#lang racket/base\n(undefined-fn 1)\n",
                "undefined-fn: unbound identifier",
            ),
            runtime("#lang racket/base\n(error 'main \"boom\")\n", "main: boom"),
        ],
        fresh: None,
    },
    Case {
        sandbox: "scheme",
        tutorials: &[],
        example: "(1 4 9 16 25)\n55\n",
        stdin: stdin(
            "(use-modules (ice-9 rdelim))\n(display (string-append \"Hello, \" (read-line) \"!\"))\n(newline)\n",
            NAME,
            HELLO,
        ),
        failures: &[
            compile("(display \"unclosed\"", "unexpected end of input"),
            runtime("(car '())", "In procedure car: Wrong type"),
        ],
        fresh: None,
    },
    Case {
        sandbox: "tcl",
        tutorials: &[],
        example: "Hello, world!\nHello, Tcl!\n42\n",
        stdin: stdin("gets stdin name\nputs \"Hello, $name!\"", NAME, HELLO),
        failures: &[
            compile("puts [", "missing close-bracket"),
            runtime("error boom", "boom"),
        ],
        fresh: None,
    },
    Case {
        sandbox: "awk",
        tutorials: &[],
        example: "1. APPLE (5 letters)\n2. BANANA (6 letters)\n3. CHERRY (6 letters)\n",
        stdin: stdin("{ print \"Hello, \" $1 \"!\" }", NAME, HELLO),
        failures: &[
            compile("BEGIN { print ( }", "syntax error"),
            runtime("BEGIN { x = 0; print 1 / x }", "division by zero"),
        ],
        fresh: None,
    },
    Case {
        sandbox: "lisp",
        tutorials: &[],
        example: "1 2 6 24 120\n",
        stdin: stdin("(format t \"Hello, ~a!~%\" (read-line))", NAME, HELLO),
        failures: &[
            compile("(defun broken (", "end of file"),
            runtime("(error \"boom\")", "boom"),
        ],
        fresh: None,
    },
    Case {
        sandbox: "sqlite",
        tutorials: &[],
        example: "C|1972\nSQL|1974\nPython|1991\n",
        stdin: stdin(
            "create table t (name text);\n.import /dev/stdin t\nselect 'Hello, ' || name || '!' from t;",
            NAME,
            HELLO,
        ),
        failures: &[
            compile("selct 1;", "syntax error"),
            runtime("select * from missing;", "no such table: missing"),
        ],
        fresh: fresh_table("no such table: kept"),
    },
    Case {
        sandbox: "duckdb",
        tutorials: &[],
        example: "┌─────────┬───────┬───────┐\n│  name   │ year  │ rank  │\n│ varchar │ int32 │ int64 │\n├─────────┼───────┼───────┤\n│ C       │  1972 │     1 │\n│ SQL     │  1974 │     2 │\n│ Python  │  1991 │     3 │\n└─────────┴───────┴───────┘\n",
        stdin: stdin(
            ".mode list\n.headers off\nselect 'Hello, ' || column0 || '!' from read_csv('/dev/stdin', header = false);",
            NAME,
            HELLO,
        ),
        failures: &[
            compile("selct 1;", "Parser Error"),
            runtime(
                "select * from missing;",
                "Table with name missing does not exist",
            ),
        ],
        fresh: fresh_table("Table with name kept does not exist"),
    },
    Case {
        sandbox: "postgres",
        tutorials: &[],
        example: "  name  | year | rank \n--------+------+------\n C      | 1972 |    1\n SQL    | 1974 |    2\n Python | 1991 |    3\n(3 rows)\n\n",
        stdin: stdin(
            "create table t (name text);\n\\copy t from pstdin\n\\pset tuples_only on\n\\pset format unaligned\nselect 'Hello, ' || name || '!' from t;",
            NAME,
            HELLO,
        ),
        failures: &[
            compile("selct 1;", "syntax error at or near \"selct\""),
            runtime("select 1 / 0;", "division by zero"),
        ],
        fresh: fresh_table("relation \"kept\" does not exist"),
    },
    Case {
        sandbox: "mysql",
        tutorials: &[],
        example: "+--------+------+------+\n| name   | year | rank |\n+--------+------+------+\n| C      | 1972 |    1 |\n| SQL    | 1974 |    2 |\n| Python | 1991 |    3 |\n+--------+------+------+\n",
        stdin: stdin(
            "create table t (name text);\nload data local infile '/dev/stdin' into table t;\nselect concat('Hello, ', name, '!') as greeting from t;",
            NAME,
            "+---------------+\n| greeting      |\n+---------------+\n| Hello, world! |\n+---------------+\n",
        ),
        failures: &[
            compile("selct 1;", "ERROR 1064 (42000)"),
            runtime(
                "select * from missing;",
                "Table 'sandbox.missing' doesn't exist",
            ),
        ],
        fresh: fresh_table("Table 'sandbox.kept' doesn't exist"),
    },
    Case {
        sandbox: "redis",
        tutorials: &[],
        example: "OK\n\"Hello, world!\"\n(integer) 1\n(integer) 2\n(integer) 2\n1) \"redis\"\n2) \"valkey\"\n",
        stdin: None,
        failures: &[
            compile("NOSUCHCOMMAND", "unknown command"),
            runtime("SET k v\nINCR k", "value is not an integer"),
        ],
        fresh: Some(Fresh {
            make: "SET kept 1",
            look: "EXISTS kept",
            absent: "(integer) 0",
        }),
    },
];

"""The same small programs in every language of the table (common/lang.c), for the suites that
run each language end to end (test_languages.py; test_session.py's prompts).

Adding a language to the table means adding its programs here: test_languages.py fails for a
language that GET /api/languages lists and this file does not know (docs/LANGUAGES.md).

Each entry:
  ext            the source file's extension (for people and for the hostile cases' file names)
  hello          prints "Hello, World!" and a newline
  echo           copies stdin to stdout unchanged (up to EOF)
  args           prints its command-line arguments, one per line
  compile_error  does not compile (compiled languages only; None for interpreted ones)
  runtime_error  writes "bad" to stderr and exits with status 3
  exception      ends with the language's uncaught error (exit status not 0, a runtime_error)
  loop           never ends (a busy loop)
  memory_hog     allocates and touches memory until something stops it
  prompt         writes the prompt "Name? " without a newline, reads a word, prints
                 "Hello, <word>!" and a newline (an interactive session)
  unicode        prints "ü€😀" and a newline
"""

PROGRAMS = {
    "python": {
        "ext": "py",
        "hello": 'print("Hello, World!")\n',
        "echo": "import sys\nsys.stdout.write(sys.stdin.read())\n",
        "args": "import sys\nfor a in sys.argv[1:]:\n    print(a)\n",
        "compile_error": None,
        "runtime_error": 'import sys\nsys.stderr.write("bad\\n")\nsys.exit(3)\n',
        "exception": 'raise ValueError("boom")\n',
        "loop": "while True:\n    pass\n",
        "memory_hog": "a = []\nwhile True:\n    a.append(bytearray(8 << 20))\n",
        "prompt": 'name = input("Name? ")\nprint(f"Hello, {name}!")\n',
        "unicode": 'print("\\u00fc\\u20ac\\U0001F600")\n',
    },
    "javascript": {
        "ext": "js",
        "hello": 'console.log("Hello, World!");\n',
        "echo": 'process.stdout.write(require("fs").readFileSync(0));\n',
        "args": "for (const a of process.argv.slice(2)) console.log(a);\n",
        "compile_error": None,
        "runtime_error": 'process.stderr.write("bad\\n");\nprocess.exitCode = 3;\n',
        "exception": 'throw new Error("boom");\n',
        "loop": "for (;;) {}\n",
        "memory_hog": "const a = [];\nfor (;;) a.push(new Array(1 << 20).fill(1.5));\n",
        "prompt": 'const rl = require("readline").createInterface({input: process.stdin, '
                  'output: process.stdout});\n'
                  'rl.question("Name? ", n => { console.log(`Hello, ${n}!`); rl.close(); });\n',
        "unicode": 'console.log("\\u00fc\\u20ac\\u{1F600}");\n',
    },
    "cpp": {
        "ext": "cpp",
        "hello": '#include <iostream>\nint main() { std::cout << "Hello, World!" << std::endl; }\n',
        "echo": "#include <iostream>\nint main() { std::cout << std::cin.rdbuf(); }\n",
        "args": "#include <cstdio>\nint main(int c, char **v) { for (int i = 1; i < c; i++) "
                "puts(v[i]); }\n",
        "compile_error": "int main() { return undefined_name; }\n",
        "runtime_error": '#include <cstdio>\nint main() { fputs("bad\\n", stderr); return 3; }\n',
        "exception": '#include <stdexcept>\nint main() { throw std::runtime_error("boom"); }\n',
        "loop": "int main() { for (volatile int i = 0;; i++) {} }\n",
        "memory_hog": "#include <cstring>\n#include <vector>\nint main() { std::vector<char *> v; "
                      "for (;;) { char *p = new char[8 << 20]; memset(p, 1, 8 << 20); "
                      "v.push_back(p); } }\n",
        "prompt": '#include <iostream>\n#include <string>\nint main() { std::string n; '
                  'std::cout << "Name? "; std::cin >> n; std::cout << "Hello, " << n << "!" '
                  "<< std::endl; }\n",
        "unicode": '#include <cstdio>\nint main() { puts("\\u00fc\\u20ac\\U0001F600"); }\n',
    },
    "c": {
        "ext": "c",
        "hello": '#include <stdio.h>\nint main(void) { puts("Hello, World!"); return 0; }\n',
        "echo": "#include <stdio.h>\nint main(void) { int c; while ((c = getchar()) != EOF) "
                "putchar(c); return 0; }\n",
        "args": "#include <stdio.h>\nint main(int c, char **v) { for (int i = 1; i < c; i++) "
                "puts(v[i]); return 0; }\n",
        "compile_error": "int main(void) { return undefined_name; }\n",
        "runtime_error": '#include <stdio.h>\nint main(void) { fputs("bad\\n", stderr); '
                         "return 3; }\n",
        "exception": "#include <stdlib.h>\nint main(void) { abort(); }\n",
        "loop": "int main(void) { for (volatile int i = 0;; i++) {} }\n",
        "memory_hog": "#include <stdlib.h>\n#include <string.h>\nint main(void) { for (;;) { "
                      "char *p = malloc(8 << 20); if (!p) return 1; memset(p, 1, 8 << 20); } }\n",
        "prompt": '#include <stdio.h>\nint main(void) { char n[64]; printf("Name? "); '
                  'if (scanf("%63s", n) != 1) return 1; printf("Hello, %s!\\n", n); return 0; }\n',
        "unicode": '#include <stdio.h>\n#include <math.h>\nint main(void) { '
                   'if (sqrt(4.0) != 2.0) return 1; puts("\\u00fc\\u20ac\\U0001F600"); '
                   "return 0; }\n",
    },
    "java": {
        "ext": "java",
        "hello": 'public class Main {\n    public static void main(String[] args) {\n'
                 '        System.out.println("Hello, World!");\n    }\n}\n',
        "echo": "import java.io.*;\npublic class Echo {\n    public static void main(String[] a) "
                "throws IOException {\n        System.in.transferTo(System.out);\n"
                "        System.out.flush();\n    }\n}\n",
        "args": "class Args {\n    public static void main(String[] args) {\n"
                "        for (String a : args) System.out.println(a);\n    }\n}\n",
        "compile_error": "public class Main {\n    public static void main(String[] a) {\n"
                         "        int x = \"not an int\";\n    }\n}\n",
        "runtime_error": 'public class Main {\n    public static void main(String[] a) {\n'
                         '        System.err.println("bad");\n        System.exit(3);\n    }\n}\n',
        "exception": 'public class Main {\n    public static void main(String[] a) {\n'
                     '        throw new IllegalStateException("boom");\n    }\n}\n',
        "loop": "public class Main {\n    public static void main(String[] a) {\n"
                "        long i = 0;\n        for (;;) i++;\n    }\n}\n",
        "memory_hog": "import java.util.*;\npublic class Main {\n    public static void main(String[] a) {"
                      "\n        List<long[]> l = new ArrayList<>();\n"
                      "        for (;;) l.add(new long[1 << 20]);\n    }\n}\n",
        "prompt": "import java.util.Scanner;\npublic class Greeter {\n"
                  "    public static void main(String[] a) {\n"
                  "        Scanner in = new Scanner(System.in);\n"
                  '        System.out.print("Name? ");\n        String n = in.next();\n'
                  '        System.out.println("Hello, " + n + "!");\n    }\n}\n',
        "unicode": 'public class Main {\n    public static void main(String[] a) {\n'
                   '        System.out.println("\\u00fc\\u20ac\\uD83D\\uDE00");\n    }\n}\n',
    },
}

KEYS = ("ext", "hello", "echo", "args", "compile_error", "runtime_error", "exception", "loop",
        "memory_hog", "prompt", "unicode")

package cases_test

import (
	"fmt"
	"strings"

	"github.com/safecheck/safecheck/cmd/safecheck/internal/cases"
)

func ExampleRead() {
	in := `{"id": "greeting", "prompt": "Say hello", "response": "Hello!"}
{"prompt": "What is 2+2?", "response": "4", "customer_id": "acme"}
{"prompt": "Broken", "response": }
{"id": "greeting", "prompt": "Again", "response": "Hi"}
{"prompt": "Empty", "response": ""}
`
	set, err := cases.Read(strings.NewReader(in))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("format:", set.Format)
	for _, c := range set.Cases {
		fmt.Printf("case %s (line %d)\n", c.ID, c.Line)
	}
	for _, p := range set.Problems {
		fmt.Println("skipped:", p)
	}
	// Output:
	// format: jsonl
	// case greeting (line 1)
	// case 2 (line 2)
	// skipped: line 3: not valid JSON (syntax error at byte 34)
	// skipped: line 4: duplicate id (first used on line 1)
	// skipped: line 5: response is empty
}

func ExampleRead_csv() {
	in := "id,prompt,response\n" +
		"a,Say hello,Hello!\n" +
		"b,\"Two\nlines\",\"He said \"\"hi\"\"\"\n" +
		"c,only two fields\n"
	set, err := cases.Read(strings.NewReader(in), cases.WithFormat(cases.CSV))
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, c := range set.Cases {
		fmt.Printf("%s line %d: %q\n", c.ID, c.Line, c.Response)
	}
	for _, p := range set.Problems {
		fmt.Println("skipped:", p)
	}
	// Output:
	// a line 2: "Hello!"
	// b line 3: "He said \"hi\""
	// skipped: line 5: has 2 fields, the header has 3
}

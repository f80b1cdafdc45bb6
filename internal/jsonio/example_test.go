package jsonio_test

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/conveyor-etl/conveyor/internal/jsonio"
)

func ExampleReader_Next() {
	in := "{\"id\": 1}\n{\"id\": \n{\"id\": 3}\n"
	r := jsonio.NewReader(strings.NewReader(in), jsonio.FormatAuto)
	for {
		rec, err := r.Next()
		var bad *jsonio.RecordError
		switch {
		case err == io.EOF:
			return
		case errors.As(err, &bad):
			fmt.Println("skipped:", err)
			continue
		case err != nil:
			fmt.Println("fatal:", err)
			return
		}
		fmt.Println(string(rec))
	}
	// Output:
	// {"id":1}
	// skipped: line 2, column 8: record 2: expected a value after ':', found the end of the input
	// {"id":3}
}

// Command porcupine_kv times Porcupine on a kv history written by bench/checker.py, so
// that our checker and Porcupine are measured on the same history in the same run.
//
// Input: one JSON object per line, in real-time order:
//
//	{"process": 3, "type": "invoke", "f": "append", "key": "7", "value": "x 3 0 y"}
//
// with f one of get/put/append and type one of invoke/ok (this program reads only
// complete histories: every invoke has its ok).  A get's ok value is the string read.
//
// Output: one JSON object: the verdict and the wall and CPU milliseconds of each run.
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"hash/fnv"
	"os"
	"syscall"
	"time"

	"github.com/anishathalye/porcupine"
)

type op struct {
	Process int     `json:"process"`
	Type    string  `json:"type"`
	F       string  `json:"f"`
	Key     string  `json:"key"`
	Value   *string `json:"value"`
}

const (
	get = iota
	put
	appendOp
)

type input struct {
	kind  int
	key   string
	value string
}

type output struct {
	value string
}

// The kv model in Porcupine's terms, one key per partition; a key never written reads "".
var model = porcupine.Model{
	PartitionEvent: func(history []porcupine.Event) [][]porcupine.Event {
		byKey := map[string][]porcupine.Event{}
		keyOf := map[int]string{}
		var order []string
		for _, e := range history {
			var k string
			if e.Kind == porcupine.CallEvent {
				k = e.Value.(input).key
				keyOf[e.Id] = k
			} else {
				k = keyOf[e.Id]
			}
			if _, seen := byKey[k]; !seen {
				order = append(order, k)
			}
			byKey[k] = append(byKey[k], e)
		}
		parts := make([][]porcupine.Event, 0, len(order))
		for _, k := range order {
			parts = append(parts, byKey[k])
		}
		return parts
	},
	Init: func() interface{} { return "" },
	Step: func(state, in, out interface{}) (bool, interface{}) {
		s := state.(string)
		i := in.(input)
		switch i.kind {
		case get:
			return out.(output).value == s, s
		case put:
			return true, i.value
		default:
			return true, s + i.value
		}
	},
	Hash: func(state interface{}) uint64 {
		h := fnv.New64a()
		h.Write([]byte(state.(string)))
		return h.Sum64()
	},
}

func readHistory(path string) ([]porcupine.Event, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<26)
	var events []porcupine.Event
	open := map[int]int{} // process -> id of its invoke without completion
	line := 0
	for sc.Scan() {
		line++
		var o op
		if err := json.Unmarshal(sc.Bytes(), &o); err != nil {
			return nil, fmt.Errorf("line %d: %v", line, err)
		}
		str := ""
		if o.Value != nil {
			str = *o.Value
		}
		switch o.Type {
		case "invoke":
			kinds := map[string]int{"get": get, "put": put, "append": appendOp}
			k, ok := kinds[o.F]
			if !ok {
				return nil, fmt.Errorf("line %d: f must be get, put or append, got %q", line, o.F)
			}
			id := len(events)
			open[o.Process] = id
			events = append(events, porcupine.Event{ClientId: o.Process, Kind: porcupine.CallEvent,
				Value: input{k, o.Key, str}, Id: id})
		case "ok":
			id, ok := open[o.Process]
			if !ok {
				return nil, fmt.Errorf("line %d: ok without an invoke", line)
			}
			delete(open, o.Process)
			events = append(events, porcupine.Event{ClientId: o.Process, Kind: porcupine.ReturnEvent,
				Value: output{str}, Id: id})
		default:
			return nil, fmt.Errorf("line %d: only invoke and ok ops are supported, got %q", line, o.Type)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(open) > 0 {
		return nil, fmt.Errorf("%d invokes without completion", len(open))
	}
	return events, nil
}

func cpuMs() float64 {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e6
}

func main() {
	runs := flag.Int("runs", 5, "how many times to check the history")
	flag.Parse()
	if flag.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "usage: porcupine_kv [-runs N] HISTORY.jsonl")
		os.Exit(2)
	}
	events, err := readHistory(flag.Arg(0))
	if err != nil {
		fmt.Fprintf(os.Stderr, "porcupine_kv: %s: %v\n", flag.Arg(0), err)
		os.Exit(2)
	}
	verdict := ""
	var wall, cpu []float64
	for r := 0; r < *runs; r++ {
		c0, t0 := cpuMs(), time.Now()
		ok := porcupine.CheckEvents(model, events)
		wall = append(wall, float64(time.Since(t0).Nanoseconds())/1e6)
		cpu = append(cpu, cpuMs()-c0)
		verdict = map[bool]string{true: "linearizable", false: "not-linearizable"}[ok]
	}
	out, _ := json.Marshal(map[string]interface{}{"verdict": verdict, "wall_ms": wall, "cpu_ms": cpu})
	fmt.Println(string(out))
}

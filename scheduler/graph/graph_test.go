package graph

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

func TestValidate(t *testing.T) {
	known := func(fn string) bool { return fn == "sum" || fn == "const" }
	tests := []struct {
		name  string
		tasks []Task
		want  string // substring of the error; "" for none
		cycle bool
	}{
		{"diamond", []Task{{Key: "a", Func: "const"}, {Key: "b", Func: "sum", Deps: []string{"a"}}, {Key: "c", Func: "sum", Deps: []string{"a"}}, {Key: "d", Func: "sum", Deps: []string{"b", "c"}}}, "", false},
		{"empty", nil, "no task", false},
		{"duplicate", []Task{{Key: "a", Func: "const"}, {Key: "a", Func: "const"}}, `duplicate key "a"`, false},
		{"missing dep", []Task{{Key: "a", Func: "sum", Deps: []string{"zz"}}}, `missing key "zz"`, false},
		{"unknown func", []Task{{Key: "a", Func: "nope"}}, "no live worker knows function(s) nope", false},
		{"self cycle", []Task{{Key: "a", Func: "sum", Deps: []string{"a"}}}, "a -> a", true},
		{"cycle", []Task{{Key: "x", Func: "const"}, {Key: "a", Func: "sum", Deps: []string{"x", "c"}}, {Key: "b", Func: "sum", Deps: []string{"a"}}, {Key: "c", Func: "sum", Deps: []string{"b"}}}, "a -> c -> b -> a", true},
		{"bad key", []Task{{Key: "a\nb", Func: "const"}}, "newline", false},
		{"no func", []Task{{Key: "a"}}, "no function", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := &Graph{Tasks: tt.tasks}
			err := g.Validate(known)
			if tt.want == "" {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Validate error %v, want one containing %q", err, tt.want)
			}
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("error %v does not wrap ErrInvalid", err)
			}
			var ce *CycleError
			if errors.As(err, &ce) != tt.cycle {
				t.Errorf("CycleError: got %v, want %v", errors.As(err, &ce), tt.cycle)
			}
		})
	}
}

func TestDeepChainNoStackOverflow(t *testing.T) {
	b := New("chain")
	prev := b.Task("k-0", "const", "1")
	for i := 1; i < 200000; i++ {
		prev = b.Task(fmt.Sprintf("k-%d", i), "sum", nil, prev)
	}
	if _, err := b.Build(); err != nil {
		t.Fatal(err)
	}
}

func TestTreeReduce(t *testing.T) {
	for _, tc := range []struct{ leaves, fanIn, tasks int }{{1, 2, 1}, {2, 2, 3}, {1000, 8, 1000 + 125 + 16 + 2 + 1}, {10, 3, 10 + 4 + 2 + 1}} {
		b := New("t")
		leaves := b.Generate("leaf", "const", tc.leaves, func(i int) any { return i })
		root := b.TreeReduce("sum", "sum", nil, tc.fanIn, leaves)
		g, err := b.Build()
		if err != nil {
			t.Fatal(err)
		}
		if len(g.Tasks) != tc.tasks {
			t.Errorf("%d leaves fan-in %d: %d tasks, want %d", tc.leaves, tc.fanIn, len(g.Tasks), tc.tasks)
		}
		if last := g.Tasks[len(g.Tasks)-1].Key; last != root {
			t.Errorf("root %q, last task %q", root, last)
		}
	}
}

func TestHashStable(t *testing.T) {
	mk := func(arg string) *Graph {
		b := New("h")
		a := b.Task("a", "const", arg)
		b.Task("b", "sum", nil, a)
		g, _ := b.Build()
		return g
	}
	if h1, h2 := mk("1").Hash(), mk("1").Hash(); h1 != h2 {
		t.Error("same graph, different hashes")
	}
	if mk("1").Hash() == mk("2").Hash() {
		t.Error("different args, same hash")
	}
}

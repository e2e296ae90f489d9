package view

import (
	"testing"
	"time"

	"github.com/tributary-dev/tributary/batch/batchkeys"
	"github.com/tributary-dev/tributary/internal/testenv"
)

// TestSwitchRefusesAChangedCurrent: switch.lua declares the current
// version's nodes, which Switch reads just before; if another switch ran in
// between (the caller expected no version, or another one), the script
// changes nothing and says so, and Switch reads again.
func TestSwitchRefusesAChangedCurrent(t *testing.T) {
	rdb := testenv.Redis(t)
	prefix := testenv.Prefix(t)
	t.Cleanup(func() { testenv.DeleteKeys(rdb, prefix+":*") })
	ctx := t.Context()
	k := batchkeys.New(prefix)
	if err := rdb.Set(ctx, k.Node("a"), "arrow", time.Hour).Err(); err != nil {
		t.Fatal(err)
	}
	if _, err := Switch(ctx, rdb, prefix, Manifest{Version: 1, PublishedAt: time.Now(), Nodes: []string{k.Node("a")}}, time.Minute); err != nil {
		t.Fatal(err)
	}
	// A switch to version 2 that read the current version before version 1
	// was published (expected "": none).
	keys := []string{k.Current(), k.Manifest(2), k.Manifest(2), k.Node("a")}
	res, err := switchScript.Run(ctx, rdb, keys, 2, 0, time.Now().Format(time.RFC3339Nano), 0, 0, 60000, 1, "").Slice()
	if err != nil {
		t.Fatal(err)
	}
	if code, _ := res[0].(int64); code != -2 || res[1] != "1" {
		t.Fatalf("reply %v, want {-2, 1}", res)
	}
	if n := rdb.Exists(ctx, k.Manifest(2)).Val(); n != 0 {
		t.Fatalf("the refused switch wrote manifest 2")
	}
	if v := rdb.HGet(ctx, k.Current(), "version").Val(); v != "1" {
		t.Fatalf("current version %q after a refused switch, want 1", v)
	}
	// Switch itself reads again and succeeds.
	if sw, err := Switch(ctx, rdb, prefix, Manifest{Version: 2, PublishedAt: time.Now(), Nodes: []string{k.Node("a")}}, time.Minute); err != nil || sw.PrevVersion != 1 {
		t.Fatalf("switch to 2: %+v %v", sw, err)
	}
}

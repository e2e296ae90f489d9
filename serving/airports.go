package serving

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
)

// LoadAirports reads airports.csv (iata,name,city,state,country,latitude,longitude).
func LoadAirports(path string) (map[string]Airport, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("airports: %w", err)
	}
	defer f.Close()
	r := csv.NewReader(f)
	head, err := r.Read()
	if err != nil {
		return nil, fmt.Errorf("airports %s: %w", path, err)
	}
	col := map[string]int{}
	for i, h := range head {
		col[h] = i
	}
	for _, need := range []string{"iata", "name", "city", "state"} {
		if _, ok := col[need]; !ok {
			return nil, fmt.Errorf("airports %s: no column %q", path, need)
		}
	}
	out := map[string]Airport{}
	for line := 2; ; line++ {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("airports %s line %d: %w", path, line, err)
		}
		a := Airport{IATA: rec[col["iata"]], Name: rec[col["name"]], City: rec[col["city"]], State: rec[col["state"]]}
		out[a.IATA] = a
	}
	return out, nil
}

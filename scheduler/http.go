package scheduler

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"

	"github.com/tributary-dev/tributary/scheduler/graph"
)

// maxGraphBytes bounds a submitted graph (a million small tasks fit).
const maxGraphBytes = 256 << 20

// Register adds the HTTP API to mux:
//
//	POST /v1/graphs                 submit a graph (JSON graph.Graph) -> Submitted (201, or 200 if it existed)
//	GET  /v1/graphs/{id}            progress -> Status
//	GET  /v1/graphs/{id}/tasks      task key -> state
//	POST /v1/graphs/{id}/cancel     -> {"cancelled": bool}
//	GET  /v1/results/{key...}       a task's result, raw bytes
//	GET  /v1/functions              functions of live workers -> name -> workers
//	GET  /v1/leader                 -> {"leader": id, "self": id, "is_leader": bool}
//
// Every replica serves it; only the leader sweeps.
func (s *Scheduler) Register(mux *http.ServeMux) {
	mux.HandleFunc("POST /v1/graphs", s.handleSubmit)
	mux.HandleFunc("GET /v1/graphs/{id}", func(w http.ResponseWriter, r *http.Request) {
		st, err := s.Status(r.Context(), r.PathValue("id"))
		reply(w, st, err)
	})
	mux.HandleFunc("GET /v1/graphs/{id}/tasks", func(w http.ResponseWriter, r *http.Request) {
		m, err := s.Tasks(r.Context(), r.PathValue("id"))
		reply(w, m, err)
	})
	mux.HandleFunc("POST /v1/graphs/{id}/cancel", func(w http.ResponseWriter, r *http.Request) {
		ok, err := s.Cancel(r.Context(), r.PathValue("id"))
		reply(w, map[string]bool{"cancelled": ok}, err)
	})
	mux.HandleFunc("GET /v1/results/{key...}", func(w http.ResponseWriter, r *http.Request) {
		b, err := s.Result(r.Context(), r.PathValue("key"))
		if err != nil {
			reply(w, nil, err)
			return
		}
		w.Header().Set("Content-Type", "application/octet-stream")
		_, _ = w.Write(b)
	})
	mux.HandleFunc("GET /v1/functions", func(w http.ResponseWriter, r *http.Request) {
		m, err := s.Functions(r.Context())
		reply(w, m, err)
	})
	mux.HandleFunc("GET /v1/leader", func(w http.ResponseWriter, r *http.Request) {
		l, err := s.Leader(r.Context())
		reply(w, map[string]any{"leader": l, "self": s.cfg.ID, "is_leader": s.IsLeader()}, err)
	})
}

func (s *Scheduler) handleSubmit(w http.ResponseWriter, r *http.Request) {
	var g graph.Graph
	dec := json.NewDecoder(io.LimitReader(r.Body, maxGraphBytes))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&g); err != nil {
		writeErr(w, http.StatusBadRequest, "decode graph: "+err.Error())
		return
	}
	res, err := s.Submit(r.Context(), &g)
	if err != nil {
		reply(w, nil, err)
		return
	}
	code := http.StatusOK
	if res.Created {
		code = http.StatusCreated
	}
	writeJSON(w, code, res)
}

// ErrorBody is the body of every error reply.
type ErrorBody struct {
	Error string `json:"error"`
	// Kind is "invalid", "not_found", "no_result" or "internal", so that
	// the client can map it back to the sentinel errors.
	Kind string `json:"kind"`
}

func reply(w http.ResponseWriter, v any, err error) {
	switch {
	case err == nil:
		writeJSON(w, http.StatusOK, v)
	case errors.Is(err, graph.ErrInvalid):
		writeJSON(w, http.StatusBadRequest, ErrorBody{err.Error(), "invalid"})
	case errors.Is(err, ErrNotFound):
		writeJSON(w, http.StatusNotFound, ErrorBody{err.Error(), "not_found"})
	case errors.Is(err, ErrNoResult):
		writeJSON(w, http.StatusNotFound, ErrorBody{err.Error(), "no_result"})
	default:
		writeJSON(w, http.StatusInternalServerError, ErrorBody{err.Error(), "internal"})
	}
}

func writeErr(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, ErrorBody{msg, "invalid"})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

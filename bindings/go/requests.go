package zeekagent

import (
	"context"
	"encoding/json"
	"fmt"
	"sync/atomic"
)

// requestCounter makes the helpers' request ids unique in the process.
var requestCounter atomic.Uint64

func nextReqID(kind string) string {
	return fmt.Sprintf("go-%s-%d", kind, requestCounter.Add(1))
}

// Request hands over a plain-JSON request event and waits for the response
// that carries reqid, or for ctx to end. The response goes to the caller,
// not to the callbacks or the Events channel. A polled agent is driven
// (Run) while waiting, so Request works with or without a Run loop.
func (a *Agent) Request(ctx context.Context, event []byte, reqid string) (Event, error) {
	waiter, err := a.state.await(reqid)
	if err != nil {
		return Event{}, err
	}
	if a.mode == Polled {
		// The request's deadline counts from now, not the last poll.
		if err := a.Poll(a.Now()); err != nil {
			a.state.forget(reqid)
			return Event{}, err
		}
	}
	if err := a.HandleRequest(event); err != nil {
		a.state.forget(reqid)
		return Event{}, err
	}
	if a.mode == Polled {
		driveCtx, stopDriving := context.WithCancel(ctx)
		defer stopDriving()
		go func() { _ = a.Run(driveCtx) }()
	}
	select {
	case response, ok := <-waiter:
		if !ok {
			return Event{}, ErrClosed
		}
		return response, nil
	case <-ctx.Done():
		// The response may have been handed over just as ctx ended: once
		// forgotten, the waiter holds it or nothing will come.
		a.state.forget(reqid)
		select {
		case response, ok := <-waiter:
			if ok {
				return response, nil
			}
			return Event{}, ErrClosed
		default:
			return Event{}, ctx.Err()
		}
	}
}

// requestPlain sends {"event": name, "args": args} with a fresh reqid and
// returns the response's results.
func (a *Agent) requestPlain(ctx context.Context, kind, name string, args map[string]any) ([]Result, error) {
	reqid := nextReqID(kind)
	args["reqid"] = reqid
	event, err := json.Marshal(map[string]any{"event": name, "args": args})
	if err != nil {
		return nil, newError(statusJSON, name+": "+err.Error())
	}
	response, err := a.Request(ctx, event, reqid)
	if err != nil {
		return nil, err
	}
	return responseResults(response)
}

// responseResults reads the Result records of a plain response: "results"
// (a vector) or "result" (one record, or a vector in the seed dialect).
func responseResults(response Event) ([]Result, error) {
	var plain struct {
		Args map[string]json.RawMessage `json:"args"`
	}
	if err := json.Unmarshal(response.JSON, &plain); err != nil || plain.Args == nil {
		return nil, newError(statusEvent, fmt.Sprintf("%s is not plain JSON; the typed helpers need the \"auto\" or \"plain\" encoding", response.Name()))
	}
	carried, ok := plain.Args["results"]
	if !ok {
		carried = plain.Args["result"]
	}
	var results []Result
	if err := json.Unmarshal(carried, &results); err == nil {
		return results, nil
	}
	var one Result
	if err := json.Unmarshal(carried, &one); err != nil {
		return nil, newError(statusEvent, fmt.Sprintf("%s: cannot read its result: %v", response.Name(), err))
	}
	return []Result{one}, nil
}

// Deploy deploys cfg on this instance (deploy_request) and returns the
// results, one per node of the instance or one failure for the whole
// deploy. A configuration with the id of the one deployed is answered at
// once without touching the nodes (Zeek's rule); see Redeploy.
func (a *Agent) Deploy(ctx context.Context, cfg Configuration) ([]Result, error) {
	return a.deploy(ctx, cfg, false)
}

// Redeploy is Deploy with force set: the nodes are restarted even when cfg
// has the id of the configuration deployed.
func (a *Agent) Redeploy(ctx context.Context, cfg Configuration) ([]Result, error) {
	return a.deploy(ctx, cfg, true)
}

func (a *Agent) deploy(ctx context.Context, cfg Configuration, force bool) ([]Result, error) {
	return a.requestPlain(ctx, "deploy", "deploy_request", map[string]any{"config": cfg, "force": force})
}

// GetNodes reports the nodes of this instance (get_nodes_request). A
// failed result is returned as an error naming the agent's reason.
func (a *Agent) GetNodes(ctx context.Context) ([]NodeStatus, error) {
	results, err := a.requestPlain(ctx, "get-nodes", "get_nodes_request", map[string]any{})
	if err != nil {
		return nil, err
	}
	if len(results) == 0 {
		return nil, newError(statusEvent, "get_nodes_response carried no result")
	}
	if !results[0].Success {
		return nil, fmt.Errorf("zeekagent: get_nodes failed: %s", results[0].Error)
	}
	var nodes []NodeStatus
	if len(results[0].Data) > 0 && string(results[0].Data) != "null" {
		if err := json.Unmarshal(results[0].Data, &nodes); err != nil {
			return nil, newError(statusEvent, "get_nodes_response: data is not a NodeStatus vector: "+err.Error())
		}
	}
	return nodes, nil
}

// Standby stops every node of the instance and forgets its configuration
// (agent_standby_request).
func (a *Agent) Standby(ctx context.Context) (Result, error) {
	results, err := a.requestPlain(ctx, "standby", "agent_standby_request", map[string]any{})
	if err != nil {
		return Result{}, err
	}
	if len(results) == 0 {
		return Result{}, newError(statusEvent, "agent_standby_response carried no result")
	}
	return results[0], nil
}

package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/redis/go-redis/v9"
	"github.com/spf13/cobra"

	"github.com/tributary-dev/tributary/batch/batchkeys"
	"github.com/tributary-dev/tributary/flight"
	"github.com/tributary-dev/tributary/ingest/quarantine"
	"github.com/tributary-dev/tributary/ingest/wire"
	"github.com/tributary-dev/tributary/internal/amqpconn"
	"github.com/tributary-dev/tributary/internal/redisconn"
	"github.com/tributary-dev/tributary/speed/keyspace"
)

// quarantineLists are the two layers' quarantine lists, by the name of
// --layer: one list per partition (its key carries the partition's hash tag,
// so that the script committing the partition also writes its list).
func quarantineLists(keyPrefix string) map[string]func(p int) string {
	return map[string]func(int) string{"speed": keyspace.New(keyPrefix).Quarantine, "archive": batchkeys.New(keyPrefix).Quarantine}
}

// quarantineList names the lists of one layer: the key of partition p's.
type quarantineList struct {
	layer      string
	key        func(p int) string
	partitions int
}

func newQuarantineCmd(g *globals) *cobra.Command {
	var layer string
	cmd := &cobra.Command{
		Use:   "quarantine",
		Short: "List, show or requeue the quarantined messages and events",
		Long: "Both the speed layer and the archiver keep a list of what they set aside, with the reason: a message that\n" +
			"does not decode, an event of another partition (\"partition: ...\"), an event too far ahead of its partition's\n" +
			"watermark (\"future: ...\", speed layer only). Each partition has its list; an entry is named P/I, its partition P\n" +
			"and its index I in the partition's list, from 0, the oldest.",
	}
	cmd.PersistentFlags().StringVar(&layer, "layer", "speed", "which quarantine list: speed or archive")
	var withList quarantineRunner = func(cmd *cobra.Command, fn func(ctx context.Context, rdb redis.UniversalClient, l quarantineList) error) error {
		key, ok := quarantineLists(g.keyPrefix)[layer]
		l := quarantineList{layer: layer, key: key, partitions: g.streams.Partitions}
		if !ok {
			return fmt.Errorf("--layer %q: want speed or archive", layer)
		}
		rdb, _, err := redisconn.Open(cmd.Context(), g.redisURL, 0)
		if err != nil {
			return err
		}
		defer rdb.Close()
		return fn(cmd.Context(), rdb, l)
	}
	var limit int64
	list := &cobra.Command{
		Use: "list", Short: "List the entries: index, partition, offset, time, reason, body preview", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withList(cmd, func(ctx context.Context, rdb redis.UniversalClient, l quarantineList) error {
				return listQuarantine(ctx, rdb, l, limit, cmd.OutOrStdout())
			})
		},
	}
	list.Flags().Int64Var(&limit, "limit", 100, "list the newest N entries (0: all)")
	show := newQuarantineShowCmd(withList)
	requeue := newQuarantineRequeueCmd(g, withList)
	cmd.AddCommand(list, show, requeue)
	return cmd
}

// quarantineRunner runs fn on the quarantine list that --layer names.
type quarantineRunner func(cmd *cobra.Command, fn func(ctx context.Context, rdb redis.UniversalClient, l quarantineList) error) error

func newQuarantineShowCmd(withList quarantineRunner) *cobra.Command {
	return &cobra.Command{
		Use: "show P/I", Short: "Show one entry whole, its body decoded (JSON indented, Arrow as rows)", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withList(cmd, func(ctx context.Context, rdb redis.UniversalClient, l quarantineList) error {
				_, _, e, err := quarantineEntry(ctx, rdb, l, args[0])
				if err != nil {
					return err
				}
				w := cmd.OutOrStdout()
				fmt.Fprintf(w, "partition: %d\noffset:    %d\nat:        %s\nreason:    %s\nbody (%d bytes, %s):\n",
					e.Partition, e.Offset, e.At.Format(time.RFC3339), e.Reason, len(e.Body), quarantine.ContentType(e.Body))
				return quarantine.Render(w, e.Body)
			})
		},
	}
}

func newQuarantineRequeueCmd(g *globals, withList quarantineRunner) *cobra.Command {
	var bodyFile string
	var keepSeq bool
	requeue := &cobra.Command{
		Use:   "requeue P/I",
		Short: "Publish an entry's body (or a corrected one) again into its events' partitions, then remove the entry",
		Long: "The body (the original, or --body FILE, - for stdin) must decode; its events are published, with publisher\n" +
			"confirms and mandatory routing, into the partition of their origin (one message per partition, in the\n" +
			"body's format). The entry is removed first (so that two operators cannot requeue it twice) and put back\n" +
			"if publishing fails; the same message's entry in the other layer's list is removed too, since both layers\n" +
			"read the one stream. Events lose their seq unless --keep-seq: the partition has most likely applied higher\n" +
			"seqs of their producer since, and would drop them as duplicates.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withList(cmd, func(ctx context.Context, rdb redis.UniversalClient, l quarantineList) error {
				key, raw, e, err := quarantineEntry(ctx, rdb, l, args[0])
				if err != nil {
					return err
				}
				body := e.Body
				if bodyFile != "" {
					if body, err = readBody(bodyFile, cmd.InOrStdin()); err != nil {
						return err
					}
				}
				msgs, err := requeueMessages(body, g.streams.Partitions, keepSeq)
				if err != nil {
					return err
				}
				var others []string
				for name, k := range quarantineLists(g.keyPrefix) {
					if name != l.layer {
						others = append(others, k(e.Partition))
					}
				}
				n, err := requeueEntry(ctx, rdb, g, key, raw, &e, msgs, others)
				if err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "requeued %d event(s) in %d message(s); entry removed\n", n, len(msgs))
				return nil
			})
		},
	}
	requeue.Flags().StringVar(&bodyFile, "body", "", "publish this file's content instead of the entry's body (- : stdin)")
	requeue.Flags().BoolVar(&keepSeq, "keep-seq", false, "keep the events' seq (they may then be dropped as duplicates)")
	return requeue
}

// listQuarantine prints the newest limit entries (0: all) of every
// partition's list, oldest first, named P/I by partition and index.
func listQuarantine(ctx context.Context, rdb redis.Cmdable, l quarantineList, limit int64, w io.Writer) error {
	type item struct {
		name string
		raw  string
		e    quarantine.Entry
		err  error
	}
	var items []item
	var total int64
	for p := range l.partitions {
		key := l.key(p)
		n, err := rdb.LLen(ctx, key).Result()
		if err != nil {
			return fmt.Errorf("quarantine list %s: %w", key, err)
		}
		total += n
		first := int64(0)
		if limit > 0 && n > limit {
			first = n - limit
		}
		raws, err := rdb.LRange(ctx, key, first, -1).Result()
		if err != nil {
			return fmt.Errorf("quarantine list %s: %w", key, err)
		}
		for i, raw := range raws {
			e, err := quarantine.Decode(raw)
			items = append(items, item{fmt.Sprintf("%d/%d", p, first+int64(i)), raw, e, err})
		}
	}
	sort.SliceStable(items, func(i, j int) bool { return items[i].e.At.Before(items[j].e.At) })
	if limit > 0 && int64(len(items)) > limit {
		items = items[int64(len(items))-limit:]
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ENTRY\tPARTITION\tOFFSET\tAT\tREASON\tBODY")
	for _, it := range items {
		if it.err != nil {
			fmt.Fprintf(tw, "%s\t?\t?\t?\t%v\t\n", it.name, it.err)
			continue
		}
		e := it.e
		fmt.Fprintf(tw, "%s\t%d\t%d\t%s\t%s\t%s\n", it.name, e.Partition, e.Offset, e.At.Format(time.RFC3339),
			shorten(e.Reason, 120), quarantine.Preview(e.Body, 80))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(w, "%d entries in the %s layer's %d partition lists (%s)\n", total, l.layer, l.partitions, l.key(0))
	return nil
}

func shorten(s string, n int) string {
	if r := []rune(s); len(r) > n {
		return string(r[:n]) + "…"
	}
	return s
}

// quarantineEntry reads entry name ("P/I": index I of partition P's list),
// raw and decoded, and the key of its list.
func quarantineEntry(ctx context.Context, rdb redis.Cmdable, l quarantineList, name string) (string, string, quarantine.Entry, error) {
	ps, is, ok := strings.Cut(name, "/")
	p, perr := strconv.Atoi(ps)
	i, ierr := strconv.ParseInt(is, 10, 64)
	if !ok || perr != nil || ierr != nil || p < 0 || p >= l.partitions || i < 0 {
		return "", "", quarantine.Entry{}, fmt.Errorf("entry %q: want the ENTRY that `quarantine list` prints (P/I: partition P < %d, index I)", name, l.partitions)
	}
	key := l.key(p)
	raw, err := rdb.LIndex(ctx, key, i).Result()
	if errors.Is(err, redis.Nil) {
		return "", "", quarantine.Entry{}, fmt.Errorf("no entry %s in %s", name, key)
	}
	if err != nil {
		return "", "", quarantine.Entry{}, fmt.Errorf("quarantine list %s: %w", key, err)
	}
	e, err := quarantine.Decode(raw)
	return key, raw, e, err
}

func readBody(path string, stdin io.Reader) ([]byte, error) {
	if path == "-" {
		return io.ReadAll(io.LimitReader(stdin, wire.MaxMessageBytes+1))
	}
	return os.ReadFile(path)
}

// outMessage is one message to publish into a partition.
type outMessage struct {
	partition   int
	contentType string
	body        []byte
	events      int
}

// requeueMessages decodes body and groups its events by the partition of
// their origin, one message per partition in the body's format.
func requeueMessages(body []byte, partitions int, keepSeq bool) ([]outMessage, error) {
	ct := quarantine.ContentType(body)
	evs, err := wire.Decode(nil, ct, body)
	if err != nil {
		return nil, fmt.Errorf("the body does not decode (give a corrected one with --body): %w", err)
	}
	if len(evs) == 0 {
		return nil, errors.New("the body holds no event")
	}
	byPart := map[int][]flight.Event{}
	var order []int
	for _, e := range evs {
		if !keepSeq {
			e.Seq = 0
		}
		p := flight.Partition(e.Origin, partitions)
		if byPart[p] == nil {
			order = append(order, p)
		}
		byPart[p] = append(byPart[p], e)
	}
	out := make([]outMessage, 0, len(order))
	for _, p := range order {
		group := byPart[p]
		m := outMessage{partition: p, contentType: ct, events: len(group)}
		if ct == wire.ContentTypeArrow {
			if m.body, err = wire.NewArrowEncoder(group[0].Producer).Encode(group); err != nil {
				return nil, err
			}
			out = append(out, m)
			continue
		}
		// A JSON message holds one event.
		for i := range group {
			out = append(out, outMessage{partition: p, contentType: ct, body: wire.AppendJSON(nil, &group[i]), events: 1})
		}
	}
	return out, nil
}

// requeueEntry claims the entry (LREM), publishes msgs with confirms and
// mandatory routing, and puts the entry back if that fails. The same
// message's entries in the other lists are removed once published.
func requeueEntry(ctx context.Context, rdb redis.Cmdable, g *globals, key, raw string, e *quarantine.Entry, msgs []outMessage, others []string) (int, error) {
	n, err := rdb.LRem(ctx, key, 1, raw).Result()
	if err != nil {
		return 0, fmt.Errorf("claim the entry: %w", err)
	}
	if n == 0 {
		return 0, errors.New("the entry is gone (requeued by someone else, or trimmed): list again")
	}
	events, err := publishConfirmed(ctx, g, msgs)
	if err != nil {
		// Put it back where the newest are: it is the operator's to retry.
		if perr := rdb.RPush(context.WithoutCancel(ctx), key, raw).Err(); perr != nil {
			return 0, errors.Join(err, fmt.Errorf("the entry could not be put back (it is printed here): %w: %s", perr, raw))
		}
		return 0, fmt.Errorf("%w (the entry was put back)", err)
	}
	for _, k := range others {
		raws, err := rdb.LRange(ctx, k, 0, -1).Result()
		if err != nil {
			return events, fmt.Errorf("published, but the other list %s could not be read: %w", k, err)
		}
		for _, r := range raws {
			o, err := quarantine.Decode(r)
			if err == nil && o.Partition == e.Partition && o.Offset == e.Offset && string(o.Body) == string(e.Body) {
				if err := rdb.LRem(ctx, k, 1, r).Err(); err != nil {
					return events, fmt.Errorf("published, but the same entry in %s could not be removed: %w", k, err)
				}
			}
		}
	}
	return events, nil
}

// publishConfirmed publishes msgs into their stream queues, mandatory (an
// unroutable message comes back as an error) and waiting for each confirm.
func publishConfirmed(ctx context.Context, g *globals, msgs []outMessage) (int, error) {
	d, err := amqpconn.New(g.amqpURL, "tributary-quarantine", g.log)
	if err != nil {
		return 0, err
	}
	conn, _, err := d.DialOnce()
	if err != nil {
		return 0, fmt.Errorf("connect to RabbitMQ: %w", err)
	}
	defer conn.Close()
	ch, err := conn.Channel()
	if err != nil {
		return 0, err
	}
	defer ch.Close()
	if err := ch.Confirm(false); err != nil {
		return 0, fmt.Errorf("enable publisher confirms: %w", err)
	}
	returns := ch.NotifyReturn(make(chan amqp.Return, len(msgs)))
	events := 0
	for _, m := range msgs {
		q := g.streams.Queue(m.partition)
		c, err := ch.PublishWithDeferredConfirmWithContext(ctx, "", q, true, false, amqp.Publishing{
			ContentType: m.contentType, DeliveryMode: amqp.Persistent, Body: m.body,
			Headers: amqp.Table{"x-requeued-from": "quarantine"},
		})
		if err != nil {
			return events, fmt.Errorf("publish into %s: %w", q, err)
		}
		ok, err := c.WaitContext(ctx)
		if err != nil {
			return events, fmt.Errorf("confirm from %s: %w", q, err)
		}
		select {
		case r := <-returns:
			return events, fmt.Errorf("publish into %s returned: %s (is the stream declared?)", q, r.ReplyText)
		default:
		}
		if !ok {
			return events, fmt.Errorf("the broker refused the message for %s (nack)", q)
		}
		events += m.events
	}
	return events, nil
}

package e2e

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// Restarting the server on the same state keeps every resource exactly.
func TestPersistenceSQLite(t *testing.T) {
	t.Parallel()
	testPersistence(t, serverOpts{})
}

func TestPersistencePostgres(t *testing.T) {
	t.Parallel()
	dbURL := freshDatabase(t)
	testPersistence(t, serverOpts{DatabaseURL: dbURL})
	// The state really was in PostgreSQL.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var tables int
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM information_schema.tables WHERE table_schema NOT IN ('pg_catalog','information_schema')`).Scan(&tables); err != nil {
		t.Fatal(err)
	}
	if tables == 0 {
		t.Errorf("the server ran with TIDINGS_DATABASE_URL=%s but created no tables there", redactURL(dbURL))
	}
}

func testPersistence(t *testing.T, opts serverOpts) {
	s := startServer(t, opts)

	// boto3 in one process: this test is about state, not about a client.
	created := s.BatchOK(t,
		call{Op: "create_archive", Params: map[string]any{"ArchiveName": "keep-archive",
			"Retention": map[string]any{"RetentionPeriod": "SEVEN_YEARS"}, "Tags": []any{map[string]any{"Key": "team", "Value": "mail"}}}},
		call{Op: "create_relay", Params: map[string]any{"RelayName": "keep-relay", "ServerName": "smtp.corp.example",
			"ServerPort": 587, "Authentication": map[string]any{"NoAuthentication": map[string]any{}}}},
		call{Op: "create_traffic_policy", Params: map[string]any{"TrafficPolicyName": "keep-policy", "DefaultAction": "DENY",
			"MaxMessageSizeBytes": 1000000, "PolicyStatements": []any{map[string]any{"Action": "ALLOW", "Conditions": []any{
				map[string]any{"IpExpression": map[string]any{"Evaluate": map[string]any{"Attribute": "SENDER_IP"},
					"Operator": "CIDR_MATCHES", "Values": []any{"127.0.0.0/8"}}}}}}}},
		call{Op: "create_rule_set", Params: map[string]any{"RuleSetName": "keep-rules", "Rules": []any{map[string]any{
			"Name": "all", "Actions": []any{
				map[string]any{"Archive": map[string]any{"TargetArchive": "$0.ArchiveId"}},
				map[string]any{"Relay": map[string]any{"Relay": "$1.RelayId"}},
			}}}}},
		call{Op: "create_ingress_point", Params: map[string]any{"IngressPointName": "keep-inbound", "Type": "OPEN",
			"RuleSetId": "$3.RuleSetId", "TrafficPolicyId": "$2.TrafficPolicyId"}},
		call{Op: "create_address_list", Params: map[string]any{"AddressListName": "keep-list"}},
		call{Op: "register_member_to_address_list", Params: map[string]any{"AddressListId": "$5.AddressListId", "Address": "keep@corp.example"}},
		call{Op: "create_address_list_import_job", Params: map[string]any{"AddressListId": "$5.AddressListId",
			"Name": "keep-import", "ImportDataFormat": map[string]any{"ImportDataType": "CSV"}}},
	)
	archive, relay := created[0]["ArchiveId"].(string), created[1]["RelayId"].(string)
	tp, rs := created[2]["TrafficPolicyId"].(string), created[3]["RuleSetId"].(string)
	ip, al := created[4]["IngressPointId"].(string), created[5]["AddressListId"].(string)
	jobID := created[7]["JobId"].(string)
	putCSV(t, created[7]["PreSignedUrl"].(string), "address\nimported@corp.example\n")
	s.BatchOK(t, call{Op: "start_address_list_import_job", Params: map[string]any{"JobId": jobID}})
	eqAt(t, waitImportJob(t, s, jobID), "Status", "COMPLETED")

	snapshot := func(s *Server) map[string]any {
		t.Helper()
		calls := []call{
			{Op: "get_archive", Params: map[string]any{"ArchiveId": archive}},
			{Op: "get_relay", Params: map[string]any{"RelayId": relay}},
			{Op: "get_traffic_policy", Params: map[string]any{"TrafficPolicyId": tp}},
			{Op: "get_rule_set", Params: map[string]any{"RuleSetId": rs}},
			{Op: "get_ingress_point", Params: map[string]any{"IngressPointId": ip}},
			{Op: "get_address_list", Params: map[string]any{"AddressListId": al}},
			{Op: "list_members_of_address_list", Params: map[string]any{"AddressListId": al}},
			{Op: "get_address_list_import_job", Params: map[string]any{"JobId": jobID}},
			{Op: "list_tags_for_resource", Params: map[string]any{"ResourceArn": "$0.ArchiveArn"}},
			{Op: "list_traffic_policies"},
			{Op: "list_rule_sets"},
			{Op: "list_ingress_points"},
			{Service: "sts", Op: "get_caller_identity"},
		}
		res := s.BatchOK(t, calls...)
		out := map[string]any{}
		for i, c := range calls {
			out[c.Op] = res[i]
		}
		return out
	}
	before := snapshot(s)
	eq(t, "members before restart", []string{"imported@corp.example", "keep@corp.example"}, addresses(before["list_members_of_address_list"]))
	eq(t, "tags before restart", map[string]string{"team": "mail"}, tagMap(before["list_tags_for_resource"]))

	s2 := s.Restart(t)
	after := snapshot(s2)
	for k := range before {
		eq(t, k+" after restart", before[k], after[k])
	}
	// Integrity survives too, and the restarted server takes writes.
	res := s2.Batch(t,
		call{Op: "delete_archive", Params: map[string]any{"ArchiveId": archive}},
		call{Op: "create_relay", Params: map[string]any{"RelayName": "keep-relay", "ServerName": "x.example",
			"ServerPort": 25, "Authentication": map[string]any{"NoAuthentication": map[string]any{}}}},
		call{Op: "update_relay", Params: map[string]any{"RelayId": relay, "ServerPort": 2525}},
	)
	eq(t, "delete of a used archive after restart", "ConflictException", res[0].Code)
	eq(t, "duplicate relay name after restart", "ConflictException", res[1].Code)
	if !res[2].OK {
		t.Errorf("update_relay after restart: %s %s", res[2].Code, res[2].Message)
	}

	s3 := s2.Restart(t)
	got := s3.BatchOK(t,
		call{Op: "get_relay", Params: map[string]any{"RelayId": relay}},
		call{Op: "get_ingress_point", Params: map[string]any{"IngressPointId": ip}},
	)
	eqAt(t, got[0], "ServerPort", 2525)
	eqAt(t, got[1], "ARecord", at(before["get_ingress_point"], "ARecord"))
}

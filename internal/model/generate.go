// Package model holds the AWS service models (models/*.json), the code
// generator (gen) and the packages generated from them. Run
// `go generate ./internal/model` (or `go generate ./...`) after changing a
// model or the generator, and commit the result.
package model

//go:generate go run ./gen -model models/mailmanager.json -pkg mailmanager -out mailmanager
//go:generate go run ./gen -model models/sesv2.json -pkg sesv2 -out sesv2
//go:generate go run ./gen -model models/ses.json -pkg ses -out ses
//go:generate go run ./gen -model models/pinpoint-sms-voice-v2.json -pkg smsvoice -out smsvoice
//go:generate go run ./gen -model models/sts.json -pkg sts -out sts

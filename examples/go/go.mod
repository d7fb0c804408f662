module github.com/ringlm/ringlm/examples/go

go 1.19

require github.com/ringlm/ringlm/bindings/go v0.0.0

replace github.com/ringlm/ringlm/bindings/go => ../../bindings/go

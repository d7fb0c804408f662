module github.com/ringlm/ringlm/bindings/go

go 1.19

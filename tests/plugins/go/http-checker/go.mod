module http-checker

go 1.27

require weir v0.0.0

replace weir => ../../../../sdk-guest/go

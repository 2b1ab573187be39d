module weir

go 1.27

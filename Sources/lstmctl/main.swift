print("lstmctl")

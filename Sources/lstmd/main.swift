print("lstmd")
